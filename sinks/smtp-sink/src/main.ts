#!/usr/bin/env node
// `npm run sink` and the container's entry point: parse flags/env, start, stop cleanly on SIGTERM/SIGINT.
import v8 from 'node:v8';
import { configFromArgs } from './cli.js';
import { startSink, SinkStartError } from './sink.js';

// The rings keep a steady ~35 MB of records while thousands of messages a second turn over. By
// default V8 lets the old generation grow up to ~4x its live size between full collections, so
// peak RSS wandered between 140 and 220 MB from run to run; growing by at most 20% keeps it near
// the live size. V8 reads this flag at every collection, so setting it here takes effect.
v8.setFlagsFromString('--heap-growing-percent=20');

async function main(): Promise<void> {
  const config = configFromArgs(process.argv.slice(2));
  const sink = await startSink(config);
  const tls = sink.tls ? (sink.tls.selfSigned ? 'STARTTLS with a self-signed certificate' : 'STARTTLS with the given certificate') : 'no STARTTLS';
  console.log(`smtp-sink: SMTP on ${config.host}:${sink.smtpPort} (${tls}), API and dashboard on ${sink.url}/`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`smtp-sink: ${signal}, finishing open transactions and stopping`);
    sink.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
    // a client holding a transaction open must not keep the pod from terminating
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  if (e instanceof SinkStartError) console.error(`smtp-sink: ${e.message}`);
  else console.error(`smtp-sink: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});

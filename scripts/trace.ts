// npm run trace -- <message-id | run> [--json]: what happened to a message (or every message of a
// run), from the sink's journey API: kumod's log records and the sink's own attempts on one
// timeline per recipient.
import { Command } from 'commander';
import { HelpShown, parseCommand } from './lib/cli/common.js';
import { runMain, UsageError, UserError } from './lib/cli/errors.js';
import { ClientError } from './lib/clients/http.js';
import { SinkClient } from './lib/clients/sink-client.js';
import { PORTS } from './lib/config/settings.js';
import { renderJourneys } from './lib/journey/render.js';

interface TraceOptions {
  json: boolean;
  sink?: string;
  run: boolean;
  messageId: boolean;
  limit: string;
}

/** A Message-ID has an @ (RFC 5322 msg-id: id-left "@" id-right); a run id (the load generator's, the e2e suite's) has none. */
export function looksLikeMessageId(arg: string): boolean {
  return arg.includes('@') || arg.startsWith('<');
}

export function sinkUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? env.MAILKIND_SINK_URL ?? `http://127.0.0.1:${env[PORTS.sinkHttp.env] ?? PORTS.sinkHttp.host}`;
}

function program(): Command {
  return new Command('trace')
    .description("Print the journey of a message (by Message-ID) or of every message of a run: kumod's log records and the sink's attempts, per recipient, in time order.")
    .argument('<message-id|run>', 'a Message-ID (with or without <>), or a run id (the X-Mailkind-Run header)')
    .option('--json', 'print the sink API answer as JSON', false)
    .option('--run', 'treat the argument as a run id even if it contains @', false)
    .option('--message-id', 'treat the argument as a Message-ID', false)
    .option('--limit <n>', 'at most this many messages of a run', '100')
    .option('--sink <url>', 'the sink API (env MAILKIND_SINK_URL; default http://127.0.0.1:8025, or MAILKIND_PORT_SINK_HTTP)')
    .addHelpText(
      'after',
      `
Examples:
  npm run trace -- '<retry-1.abc@mailkind.test>'
  npm run trace -- e2e-retry-17 --json > journey.json
Exit codes: 0 printed, 1 the sink is unreachable or knows no such message, 2 bad usage.`,
    );
}

await runMain(async () => {
  const cmd = program();
  try {
    parseCommand(cmd, process.argv.slice(2));
  } catch (e) {
    if (e instanceof HelpShown) return 0;
    throw e;
  }
  const o = cmd.opts<TraceOptions>();
  const arg = (cmd.args[0] ?? '').trim();
  if (arg === '') throw new UsageError('the message id or run is empty', 'npm run trace -- <message-id | run>');
  if (o.run && o.messageId) throw new UsageError('--run and --message-id exclude each other');
  if (!/^\d+$/.test(o.limit) || Number(o.limit) < 1 || Number(o.limit) > 1000) throw new UsageError(`--limit ${o.limit}: give a whole number from 1 to 1000`);
  const byId = o.messageId || (!o.run && looksLikeMessageId(arg));
  const base = sinkUrl(o.sink, process.env);
  let client: SinkClient;
  try {
    client = new SinkClient(base, { timeoutMs: 10_000 });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e), 'give --sink as http://host:port');
  }
  let answer;
  try {
    answer = await client.journey(byId ? { messageId: arg } : { run: arg }, Number(o.limit));
  } catch (e) {
    if (e instanceof ClientError && (e.kind === 'connection' || e.kind === 'timeout')) {
      throw new UserError(`cannot reach the sink at ${base}: ${e.message}`, 'start the stack (npm run up) or a local sink (npm run sink), or point --sink / MAILKIND_SINK_URL at it');
    }
    if (e instanceof ClientError && e.status === 404) {
      throw new UserError(`${base} has no journey API (GET /api/journey answered 404)`, 'the sink there is older than this checkout: rebuild it (npm run up rebuilds the image)');
    }
    throw e;
  }
  if (o.json) {
    process.stdout.write(JSON.stringify(answer, null, 2) + '\n');
    return answer.total ? 0 : 1;
  }
  if (!answer.total) {
    const what = byId ? `Message-ID ${arg}` : `run ${arg}`;
    throw new UserError(
      `the sink knows no message with ${what}`,
      byId ? 'check the id (a run id? use --run), or whether the sink was reset or restarted since' : 'check the run id (a Message-ID? use --message-id), or whether the sink was reset or restarted since',
    );
  }
  process.stdout.write(renderJourneys(answer.journeys));
  if (answer.total > answer.count) process.stdout.write(`\n(${answer.total - answer.count} more messages in this run: --limit)\n`);
  return 0;
});

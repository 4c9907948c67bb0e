// npm run bench:journey: what the sink's journey side costs, measured here without a cluster.
//  1. ingest: kumod-format records (test/fixtures/kumod-records.ts) POSTed in batches of 100, as
//     the policy's hook sends them, from 4 clients at once: records/s;
//  2. the same while an SMTP client delivers to the sink: the SMTP rate with and without ingest;
//  3. GET /api/journey for one message with the ring full (100,000 records): latency.
// It cannot measure what the 0.9x target is about (kumod's delivery rate with the hook on
// and off); that needs `npm run load` through kumod on a real cluster (docs/journey.md).
import { sinkConfig } from '../sinks/smtp-sink/src/config.js';
import { startSink } from '../sinks/smtp-sink/src/sink.js';
import { kumoRecord } from '../test/fixtures/kumod-records.js';
import { RawSmtp, message } from '../test/helpers/smtp-client.js';

const BATCH = 100;
const BATCHES = Number(process.env.JOURNEY_BENCH_BATCHES ?? 1000);
const CLIENTS = 4;

const sink = await startSink(sinkConfig({ smtpPort: 0, httpPort: 0, maxJourneyRecords: 100_000 }));
const now = new Date();
const batch = JSON.stringify(
  Array.from({ length: BATCH }, (_, i) => kumoRecord({ type: i % 2 ? 'Delivery' : 'Reception', at: now, messageId: `bench-${i}@bench.test`, recipient: `u${i}@example.test`, run: 'bench', subject: 'bench' })),
);

async function ingest(batches: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next++ < batches) {
        const res = await fetch(`${sink.url}/api/journey/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: batch });
        if (!res.ok) throw new Error(`ingest answered ${res.status}`);
        await res.arrayBuffer();
      }
    }),
  );
  return (batches * BATCH) / ((performance.now() - started) / 1000);
}

/** Messages per second one SMTP connection gets accepted for `ms`. */
async function smtpRate(ms: number): Promise<number> {
  const c = await RawSmtp.connect(sink.smtpPort);
  await c.reply();
  await c.command('EHLO bench.test');
  const body = message({ Subject: 'bench', 'Message-ID': '<smtp-bench@bench.test>' });
  let n = 0;
  const end = performance.now() + ms;
  const started = performance.now();
  while (performance.now() < end) {
    if ((await c.send('a@bench.test', ['b@example.test'], body))?.code === 250) n++;
  }
  c.destroy();
  return n / ((performance.now() - started) / 1000);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
await ingest(50); // warm-up
const alone = await ingest(BATCHES);
const smtpAlone = await smtpRate(3000);
const [smtpWithIngest, ingestWithSmtp] = await Promise.all([smtpRate(3000), ingest(BATCHES)]);
const lat: number[] = [];
for (let i = 0; i < 20; i++) {
  const t = performance.now();
  await (await fetch(`${sink.url}/api/journey?messageId=bench-${i}@bench.test`)).arrayBuffer();
  lat.push(performance.now() - t);
}
lat.sort((a, b) => a - b);
console.log(`journey ingest, batches of ${BATCH} from ${CLIENTS} clients: ${fmt(alone)} records/s`);
console.log(`SMTP, one connection: ${fmt(smtpAlone)} msg/s alone, ${fmt(smtpWithIngest)} msg/s while ingesting (${fmt(ingestWithSmtp)} records/s meanwhile)`);
console.log(`GET /api/journey, ring of ${fmt(sink.journey.size)} records: median ${lat[10]!.toFixed(1)} ms, max ${lat.at(-1)!.toFixed(1)} ms`);
await sink.close();

// The 4 posting clients of bench/journey.bench.ts in a process of their own (kumod posts from
// elsewhere too), so they do not share an event loop with the sink or with the SMTP client.
// argv: <sink url> <clients> <batches | "until-stopped">. Posts kumod-format batches of 100 records
// (test/fixtures/kumod-records.ts: 50 messages of Reception + Delivery, 50 messages per run id)
// until the count is reached or the message "stop" arrives, then sends {batches, recordsPerSecond}.
import { kumoRecord } from '../../test/fixtures/kumod-records.js';
import { BATCH, PER_RUN } from './journey-batch.js';

const [url = '', clientsArg = '4', batchesArg = 'until-stopped'] = process.argv.slice(2);
const limit = batchesArg === 'until-stopped' ? Infinity : Number(batchesArg);
const at = new Date();
// one template, numbered per POST
const TEMPLATE = JSON.stringify(
  Array.from({ length: BATCH }, (_, i) => {
    const m = Math.floor(i / 2);
    return kumoRecord({ type: i % 2 ? 'Delivery' : 'Reception', at, messageId: `bench-@B@-${m}@bench.test`, recipient: `u${m}@example.test`, run: 'bench-run-@R@', subject: 'bench' });
  }),
);
let sent = 0;
let stopped = false;
process.on('message', (m) => {
  if (m === 'stop') stopped = true;
});
const started = performance.now();
await Promise.all(
  Array.from({ length: Number(clientsArg) }, async () => {
    while (!stopped && sent < limit) {
      const n = sent++;
      const body = TEMPLATE.replaceAll('@B@', String(n)).replaceAll('@R@', String(Math.floor((n * (BATCH / 2)) / PER_RUN)));
      const res = await fetch(`${url}/api/journey/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (!res.ok) throw new Error(`ingest answered ${res.status}`);
      await res.arrayBuffer();
    }
  }),
);
process.send?.({ batches: sent, recordsPerSecond: (sent * BATCH) / ((performance.now() - started) / 1000) });
process.disconnect?.();

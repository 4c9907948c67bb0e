// The record batches of bench/journey.bench.ts, shared by the bench and its poster process:
// kumod-format records (test/fixtures/kumod-records.ts), 50 messages of Reception + Delivery per
// POST, numbered per POST, 50 messages per run id.
import { kumoRecord } from '../../test/fixtures/kumod-records.js';

/** records per POST, as the policy's hook sends at most (journey.lua BATCH_SIZE) */
export const BATCH = 100;
/** messages per run id: a ?run= lookup finds this many */
export const PER_RUN = 50;

let template: string | undefined;

/** The JSON body of POST number n. */
export function batchBody(n: number): string {
  template ??= JSON.stringify(
    Array.from({ length: BATCH }, (_, i) => {
      const m = Math.floor(i / 2);
      const at = new Date();
      return kumoRecord({ type: i % 2 ? 'Delivery' : 'Reception', at, messageId: `bench-@B@-${m}@bench.test`, recipient: `u${m}@example.test`, run: 'bench-run-@R@', subject: 'bench' });
    }),
  );
  return template.replaceAll('@B@', String(n)).replaceAll('@R@', String(Math.floor((n * (BATCH / 2)) / PER_RUN)));
}

/** `clients` loops POSTing batches until `batches` were sent or stop() says so; records/s. */
export async function postBatches(url: string, clients: number, batches: number, stop: () => boolean): Promise<{ batches: number; recordsPerSecond: number }> {
  let sent = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (!stop() && sent < batches) {
        const res = await fetch(`${url}/api/journey/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: batchBody(sent++) });
        if (!res.ok) throw new Error(`ingest answered ${res.status}`);
        await res.arrayBuffer();
      }
    }),
  );
  return { batches: sent, recordsPerSecond: (sent * BATCH) / ((performance.now() - started) / 1000) };
}

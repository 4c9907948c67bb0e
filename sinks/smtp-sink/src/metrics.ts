// /metrics: prom-client registry mirroring the store's lifetime totals at scrape time, so the SMTP hot
// path pays nothing for metrics.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { CounterName, SinkStore } from './record/store.js';
import type { JourneyStore } from './journey/store.js';

const PREFIX = 'mailkind_sink_';

export function createMetrics(store: SinkStore, journey?: JourneyStore): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: PREFIX });

  const mirror = (name: string, help: string, total: CounterName) =>
    new Counter({
      name: PREFIX + name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(store.totals[total]);
      },
    });
  mirror('messages_accepted_total', 'Messages accepted with 250 after DATA.', 'accepted');
  mirror('bytes_accepted_total', 'Bytes of accepted messages.', 'bytes');
  mirror('recipients_accepted_total', 'Recipients of accepted messages.', 'recipients');
  mirror('refusals_permanent_total', 'Replies 5xx to RCPT or DATA.', 'rejected');
  mirror('refusals_temporary_total', 'Replies 4xx to RCPT or DATA.', 'tempfailed');
  mirror('connections_total', 'SMTP connections accepted.', 'connections');
  mirror('messages_oversized_total', 'Messages refused with 552 for their size.', 'oversized');
  mirror('messages_aborted_total', 'Transactions the client left during DATA or before the reply.', 'aborted');
  mirror('fault_disconnects_total', 'Connections dropped by a disconnect fault.', 'disconnected');

  new Counter({
    name: PREFIX + 'replies_total',
    help: 'Replies to RCPT and DATA by phase and code (code 0: connection dropped).',
    labelNames: ['phase', 'code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [phase, code, n] of store.replies()) this.inc({ phase, code: String(code) }, n);
    },
  });

  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name: PREFIX + name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('connections_active', 'Open SMTP connections.', () => store.activeConnections);
  gauge('stored_messages', 'Messages held in the ring buffer.', () => store.messageCount);
  gauge('stored_attempts', 'Attempts held in the ring buffer.', () => store.attemptCount);
  gauge('stored_body_bytes', 'Bytes of raw messages held.', () => store.bodyBytes);
  if (journey) {
    new Counter({
      name: PREFIX + 'journey_records_total',
      help: 'kumod log records posted to /api/journey/records, by record type.',
      labelNames: ['type'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [type, n] of Object.entries(journey.totals.byType)) this.inc({ type }, n);
      },
    });
    new Counter({
      name: PREFIX + 'journey_records_invalid_total',
      help: 'Posted log records refused as invalid (no type or time).',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(journey.totals.invalid);
      },
    });
    gauge('stored_journey_records', 'kumod log records held in the ring buffer.', () => journey.size);
  }
  return registry;
}

// kumod's log records as the sink keeps them: a bounded ring (oldest dropped first) and counters
// by record type that are never dropped (since the last reset, and since start for /metrics).
import { Ring } from '../record/ring.js';
import { parseKumoRecord, type KumoEvent } from './records.js';

export interface JourneyCounters {
  /** records stored, whatever their type */
  records: number;
  /** records refused (no type, no time, not an object) */
  invalid: number;
  /** POSTs that brought records */
  batches: number;
  /** records per KumoMTA record type ("Reception", "Delivery", "TransientFailure", ...) */
  byType: Record<string, number>;
}

const zero = (): JourneyCounters => ({ records: 0, invalid: 0, batches: 0, byType: {} });

export interface IngestResult {
  accepted: number;
  invalid: number;
  /** the first few problems, for the poster's log */
  errors: string[];
}

export class JourneyStore {
  counters = zero();
  readonly totals = zero();
  since = Date.now();
  readonly #ring: Ring<KumoEvent>;
  #seq = 0;
  readonly #listeners = new Set<(events: KumoEvent[]) => void>();

  constructor(readonly capacity: number) {
    this.#ring = new Ring(capacity);
  }

  get size(): number {
    return this.#ring.size;
  }

  subscribe(listener: (events: KumoEvent[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stores every valid record of one POST; invalid ones are counted and named, never stored. */
  ingest(records: readonly unknown[], postedFrom: string): IngestResult {
    const result: IngestResult = { accepted: 0, invalid: 0, errors: [] };
    const added: KumoEvent[] = [];
    for (const [i, input] of records.entries()) {
      const parsed = parseKumoRecord(input);
      if (!parsed.ok) {
        result.invalid++;
        if (result.errors.length < 5) result.errors.push(`record ${i}: ${parsed.error}`);
        continue;
      }
      const event: KumoEvent = { ...parsed.event, seq: ++this.#seq, postedFrom };
      this.#ring.push(event);
      added.push(event);
      this.#count(event.type);
      result.accepted++;
    }
    this.counters.invalid += result.invalid;
    this.totals.invalid += result.invalid;
    if (result.accepted) {
      this.counters.batches++;
      this.totals.batches++;
      for (const l of this.#listeners) l(added);
    }
    return result;
  }

  /** Oldest first. */
  events(): Iterable<KumoEvent> {
    return this.#ring.oldestFirst();
  }

  /** Everything (and the counters), or only one run's records. */
  reset(run: string | null): void {
    if (run === null) {
      this.#ring.clear();
      this.counters = zero();
      this.since = Date.now();
    } else {
      this.#ring.retain((e) => e.run !== run);
    }
  }

  #count(type: string): void {
    this.counters.records++;
    this.totals.records++;
    this.counters.byType[type] = (this.counters.byType[type] ?? 0) + 1;
    this.totals.byType[type] = (this.totals.byType[type] ?? 0) + 1;
  }
}

/** KumoMTA's own account, as the dashboard and /api/stats show it beside the sink's counters. */
export function kumoCounts(c: JourneyCounters) {
  const n = (t: string) => c.byType[t] ?? 0;
  return {
    received: n('Reception'),
    delivered: n('Delivery'),
    deferred: n('TransientFailure'),
    bounced: n('Bounce') + n('AdminBounce'),
    expired: n('Expiration'),
    rejected: n('Rejection'),
    records: c.records,
    invalid: c.invalid,
    batches: c.batches,
    byType: { ...c.byType },
  };
}

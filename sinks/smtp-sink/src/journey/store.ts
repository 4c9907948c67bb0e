// kumod's log records as the sink keeps them: a bounded ring (oldest dropped first), indexed by
// Message-ID and run so a journey lookup does not scan it, and counters by record type that are
// never dropped (since the last reset, and since start for /metrics).
//
// Ingest shares the event loop with SMTP. A POST is stored in slices of `sliceRecords` records
// with the event loop free between them (setImmediate), and one POST at a time: an SMTP command
// then waits for at most one slice, not for every batch in flight. At most `maxQueued` POSTs wait
// their turn; beyond that the sink answers 503 and kumod's hook retries the batch later.
import { Ring } from '../record/ring.js';
import { RingIndex } from '../record/ring-index.js';
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

export interface IngestOptions {
  /** records stored per turn of the event loop; Infinity stores a whole POST at once */
  sliceRecords?: number;
  /** POSTs waiting for their turn before the sink answers 503 */
  maxQueued?: number;
}

/** Too many POSTs waiting: answered 503, and the poster retries. */
export class IngestBusy extends Error {}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class JourneyStore {
  counters = zero();
  readonly totals = zero();
  since = Date.now();
  readonly sliceRecords: number;
  readonly maxQueued: number;
  readonly #ring: Ring<KumoEvent>;
  readonly #byMessageId = new RingIndex<KumoEvent>((e) => e.messageId);
  readonly #byRun = new RingIndex<KumoEvent>((e) => e.run);
  #seq = 0;
  readonly #listeners = new Set<(events: KumoEvent[]) => void>();
  /** the POST being stored and those waiting, in order */
  #queue: Promise<unknown> = Promise.resolve();
  #queued = 0;

  constructor(
    readonly capacity: number,
    options: IngestOptions = {},
  ) {
    this.#ring = new Ring(capacity);
    this.sliceRecords = options.sliceRecords ?? 25;
    this.maxQueued = options.maxQueued ?? 16;
  }

  get size(): number {
    return this.#ring.size;
  }

  /** POSTs being stored or waiting. */
  get queued(): number {
    return this.#queued;
  }

  subscribe(listener: (events: KumoEvent[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stores every valid record of one POST at once; invalid ones are counted and named, never stored. */
  ingest(records: readonly unknown[], postedFrom: string): IngestResult {
    const result: IngestResult = { accepted: 0, invalid: 0, errors: [] };
    const added: KumoEvent[] = [];
    this.#store(records, 0, records.length, postedFrom, result, added);
    return this.#finish(result, added);
  }

  /**
   * The same, in slices with the event loop free between them, one POST after the other (see the
   * top of this file). `input` may be a function that parses the body when its turn comes (what it
   * throws rejects the promise). Rejects with IngestBusy when maxQueued POSTs are already waiting.
   */
  ingestSliced(input: readonly unknown[] | (() => readonly unknown[]), postedFrom: string): Promise<IngestResult> {
    if (this.#queued >= this.maxQueued) return Promise.reject(new IngestBusy(`${this.#queued} batches of log records are waiting to be stored; try again in a moment`));
    this.#queued++;
    const run = async (): Promise<IngestResult> => {
      // a body is parsed at its turn too: parsing is most of the cost of a POST
      const records = typeof input === 'function' ? input() : input;
      const result: IngestResult = { accepted: 0, invalid: 0, errors: [] };
      const added: KumoEvent[] = [];
      const step = Math.max(1, this.sliceRecords);
      for (let from = 0; from < records.length; from += step) {
        if (from > 0) await nextTurn();
        this.#store(records, from, Math.min(records.length, from + step), postedFrom, result, added);
      }
      return this.#finish(result, added);
    };
    const done = this.#queue.then(run).finally(() => this.#queued--);
    this.#queue = done.catch(() => undefined);
    return done;
  }

  #store(records: readonly unknown[], from: number, to: number, postedFrom: string, result: IngestResult, added: KumoEvent[]): void {
    for (let i = from; i < to; i++) {
      const parsed = parseKumoRecord(records[i]);
      if (!parsed.ok) {
        result.invalid++;
        if (result.errors.length < 5) result.errors.push(`record ${i}: ${parsed.error}`);
        continue;
      }
      const event: KumoEvent = { ...parsed.event, seq: ++this.#seq, postedFrom };
      const evicted = this.#ring.push(event);
      if (evicted) {
        this.#byMessageId.evict(evicted);
        this.#byRun.evict(evicted);
      }
      this.#byMessageId.add(event);
      this.#byRun.add(event);
      added.push(event);
      this.#count(event.type);
      result.accepted++;
    }
  }

  #finish(result: IngestResult, added: KumoEvent[]): IngestResult {
    this.counters.invalid += result.invalid;
    this.totals.invalid += result.invalid;
    if (result.accepted) {
      this.counters.batches++;
      this.totals.batches++;
      for (const l of this.#listeners) l(added);
    }
    return result;
  }

  /** The records of these Message-IDs, and with a run the run's records that have none, in arrival order. */
  eventsFor(messageIds: Iterable<string>, run?: string): KumoEvent[] {
    const out: KumoEvent[] = [];
    for (const id of new Set(messageIds)) out.push(...this.#byMessageId.get(id));
    if (run !== undefined) for (const e of this.#byRun.get(run)) if (!e.messageId) out.push(e);
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** Message-IDs of the records that carry this run's header. */
  messageIdsOfRun(run: string): Set<string> {
    const ids = new Set<string>();
    for (const e of this.#byRun.get(run)) if (e.messageId) ids.add(e.messageId);
    return ids;
  }

  /** Oldest first. */
  events(): Iterable<KumoEvent> {
    return this.#ring.oldestFirst();
  }

  /** Everything (and the counters), or only one run's records. */
  reset(run: string | null): void {
    if (run === null) {
      this.#ring.clear();
      this.#byMessageId.clear();
      this.#byRun.clear();
      this.counters = zero();
      this.since = Date.now();
    } else {
      this.#ring.retain((e) => e.run !== run);
      this.#byMessageId.rebuild(this.#ring.oldestFirst());
      this.#byRun.rebuild(this.#ring.oldestFirst());
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

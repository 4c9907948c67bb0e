// Everything the sink remembers: counters (never dropped), recent messages and attempts (bounded
// rings), raw bodies (within a byte budget) and per-run counts that long-polls wait on.
import { BoundedMap, Ring } from './ring.js';
import { RingIndex } from './ring-index.js';
import { parseHeaderBlock, type HeaderList } from './headers.js';
import type { Phase } from '../faults/actions.js';

export interface MessageRecord {
  id: number;
  receivedAt: number;
  mailFrom: string;
  rcptTo: string[];
  messageId: string | null;
  subject: string | null;
  from: string | null;
  listId: string | null;
  run: string | null;
  size: number;
  tls: boolean;
  tlsProtocol: string | null;
  clientAddress: string;
  helo: string | null;
  attempt: number;
  /** The fault that decided the attempt, if any (a slow- reply is accepted too). */
  fault: string | null;
  /** Raw header block (bounded); parsed only when the API asks. */
  headerBlock: string;
  body: Buffer | null;
}

export type AttemptPhase = Phase | 'connect' | 'mail';
const PHASES: readonly AttemptPhase[] = ['connect', 'mail', 'rcpt', 'data'];

export interface AttemptRecord {
  time: number;
  phase: AttemptPhase;
  code: number;
  mailFrom: string | null;
  rcptTo: string[];
  messageId: string | null;
  run: string | null;
  attempt: number;
  fault: string | null;
  clientAddress: string;
  /** Short reason for refusals the sink made on its own (size, limits, aborted DATA). */
  note: string | null;
}

export interface Counters {
  accepted: number;
  rejected: number;
  tempfailed: number;
  connections: number;
  bytes: number;
  recipients: number;
  oversized: number;
  aborted: number;
  disconnected: number;
}

const zeroCounters = (): Counters => ({
  accepted: 0,
  rejected: 0,
  tempfailed: 0,
  connections: 0,
  bytes: 0,
  recipients: 0,
  oversized: 0,
  aborted: 0,
  disconnected: 0,
});

export interface StoreLimits {
  maxMessages: number;
  maxAttempts: number;
  bodyBudget: number;
  /** Distinct run ids whose counts are remembered for long-polls. */
  maxRuns?: number;
}

export interface MessageFilter {
  run?: string | undefined;
  rcpt?: string | undefined;
  limit?: number | undefined;
}

interface Waiter {
  run: string | null;
  count: number;
  done: (count: number) => void;
}

export type StoreEvent = { type: 'message'; record: MessageRecord } | { type: 'attempt'; record: AttemptRecord } | { type: 'reset'; run: string | null };

export type CounterName = keyof Counters;

export class SinkStore {
  /** Since the last reset (DELETE /api/messages); what /api/stats reports. */
  counters: Counters = zeroCounters();
  /** Since start, never reset; what /metrics reports, so Prometheus counters stay monotonic. */
  readonly totals: Counters = zeroCounters();
  /** Replies since start by phase and code, keyed `${phase} ${code}` ("data 250", "rcpt 451"). */
  readonly #replies = new Map<number, number>();
  /** When the counters were last reset. */
  since = Date.now();
  /** Open SMTP connections, read from the server (it owns the sockets). */
  openConnections: () => number = () => 0;
  get activeConnections(): number {
    return this.openConnections();
  }
  /** Replies held back by a slow- fault right now. */
  delayedReplies = 0;
  readonly #messages: Ring<MessageRecord>;
  /** An accepted message is its own attempt record: one object per message, not two. */
  readonly #attempts: Ring<AttemptRecord | MessageRecord>;
  /** the attempts ring by Message-ID and by run, for journey lookups without a scan */
  readonly #attemptsById = new RingIndex<AttemptRecord | MessageRecord>((a) => a.messageId);
  readonly #attemptsByRun = new RingIndex<AttemptRecord | MessageRecord>((a) => a.run);
  readonly #runCounts: BoundedMap<string, number>;
  readonly #waiters = new Set<Waiter>();
  readonly #listeners = new Set<(e: StoreEvent) => void>();
  #bodies: MessageRecord[] = [];
  #bodyBytes = 0;
  #nextId = 1;

  constructor(readonly limits: StoreLimits) {
    this.#messages = new Ring(limits.maxMessages);
    this.#attempts = new Ring(limits.maxAttempts);
    this.#runCounts = new BoundedMap(limits.maxRuns ?? 10_000);
  }

  subscribe(listener: (e: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Replies since start as [phase, code, count]. */
  replies(): [AttemptPhase, number, number][] {
    return [...this.#replies].map(([key, n]) => [PHASES[Math.floor(key / 1000)] as AttemptPhase, key % 1000, n]);
  }

  get messageCount(): number {
    return this.#messages.size;
  }

  get attemptCount(): number {
    return this.#attempts.size;
  }

  get bodyBytes(): number {
    return this.#bodyBytes;
  }

  count(name: CounterName, n = 1): void {
    this.counters[name] += n;
    this.totals[name] += n;
  }

  /** Records an accepted message (a 250 after DATA). */
  addMessage(record: MessageRecord): MessageRecord {
    record.id = this.#nextId++;
    const m = record;
    this.count('accepted');
    this.count('bytes', m.size);
    this.count('recipients', m.rcptTo.length);
    this.#countReply('data', 250);
    this.#pushAttempt(record);
    const evicted = this.#messages.push(record);
    if (evicted) {
      if (evicted.body) this.#dropBody(evicted);
      // it may live on in the attempts ring: keep only the small fields there
      evicted.headerBlock = '';
    }
    if (record.body) this.#keepBody(record);
    const run = record.run;
    const runCount = run === null ? 0 : (this.#runCounts.get(run) ?? 0) + 1;
    if (run !== null) this.#runCounts.set(run, runCount);
    if (this.#waiters.size) this.#wakeWaiters(run, runCount);
    this.#emit({ type: 'message', record });
    return record;
  }

  addAttempt(a: AttemptRecord): void {
    if (a.code >= 500) this.count('rejected');
    else if (a.code >= 400) this.count('tempfailed');
    this.#countReply(a.phase, a.code);
    this.#pushAttempt(a);
    this.#emit({ type: 'attempt', record: a });
  }

  /** Messages matching the filter, newest first. */
  messages(filter: MessageFilter = {}): { total: number; messages: MessageRecord[] } {
    const rcpt = filter.rcpt?.toLowerCase();
    const limit = filter.limit ?? Infinity;
    const out: MessageRecord[] = [];
    let total = 0;
    for (const m of this.#messages.newestFirst()) {
      if (filter.run !== undefined && m.run !== filter.run) continue;
      if (rcpt !== undefined && !m.rcptTo.some((r) => r.toLowerCase() === rcpt)) continue;
      total++;
      if (out.length < limit) out.push(m);
    }
    return { total, messages: out };
  }

  message(id: number): MessageRecord | undefined {
    for (const m of this.#messages.newestFirst()) if (m.id === id) return m;
    return undefined;
  }

  /** Attempts matching the filter, oldest first (the order a retry test reads them in). */
  attempts(filter: MessageFilter = {}): AttemptRecord[] {
    const rcpt = filter.rcpt?.toLowerCase();
    const out: AttemptRecord[] = [];
    for (const entry of this.#attempts.oldestFirst()) {
      const a = asAttempt(entry);
      if (filter.run !== undefined && a.run !== filter.run) continue;
      if (rcpt !== undefined && !a.rcptTo.some((r) => r.toLowerCase() === rcpt)) continue;
      out.push(a);
    }
    // the newest `limit`; slice(-0) would keep everything, so 0 is its own case
    if (filter.limit === undefined) return out;
    return filter.limit === 0 ? [] : out.slice(-filter.limit);
  }

  /** Every attempt in the ring, oldest first, without filtering or copying the list. */
  *attemptRecords(): Generator<AttemptRecord> {
    for (const entry of this.#attempts.oldestFirst()) yield asAttempt(entry);
  }

  /** The attempts (accepted and refused) of these Message-IDs, oldest first per Message-ID. */
  attemptsOf(messageIds: Iterable<string>): AttemptRecord[] {
    const out: AttemptRecord[] = [];
    for (const id of new Set(messageIds)) for (const e of this.#attemptsById.get(id)) out.push(asAttempt(e));
    return out;
  }

  /** Message-IDs of the attempts that carry this run's header. */
  messageIdsOfRun(run: string): Set<string> {
    const ids = new Set<string>();
    for (const e of this.#attemptsByRun.get(run)) if (e.messageId) ids.add(e.messageId);
    return ids;
  }

  /** The newest `limit` refused attempts (4xx, 5xx, dropped), oldest first. */
  refusals(limit: number): AttemptRecord[] {
    const out: AttemptRecord[] = [];
    for (const entry of this.#attempts.newestFirst()) {
      if (out.length >= limit) break;
      if (isMessage(entry)) continue;
      if (entry.code >= 400 || entry.code === 0) out.push(entry);
    }
    return out.reverse();
  }

  /** Accepted messages of a run (or all, for null) since the last reset; not limited by the ring. */
  acceptedFor(run: string | null): number {
    return run === null ? this.counters.accepted : (this.#runCounts.get(run) ?? 0);
  }

  /** Resolves with the count once `count` messages of the run arrived, or with the count so far at the deadline. */
  waitFor(run: string | null, count: number, timeoutMs: number, signal?: AbortSignal): Promise<{ reached: boolean; count: number }> {
    const now = this.acceptedFor(run);
    if (now >= count) return Promise.resolve({ reached: true, count: now });
    return new Promise((resolve) => {
      const finish = (reached: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters.delete(waiter);
        resolve({ reached, count: this.acceptedFor(run) });
      };
      const waiter: Waiter = { run, count, done: () => finish(true) };
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  /** DELETE /api/messages: everything (and the counters), or only one run's records. */
  reset(run: string | null = null): void {
    if (run === null) {
      this.#messages.clear();
      this.#attempts.clear();
      this.#attemptsById.clear();
      this.#attemptsByRun.clear();
      this.#runCounts.clear();
      this.#bodies = [];
      this.#bodyBytes = 0;
      this.counters = zeroCounters();
      this.since = Date.now();
    } else {
      this.#messages.retain((m) => m.run !== run);
      this.#attempts.retain((a) => a.run !== run);
      this.#attemptsById.rebuild(this.#attempts.oldestFirst());
      this.#attemptsByRun.rebuild(this.#attempts.oldestFirst());
      this.#runCounts.delete(run);
      // one pass, not a drop per body: a run can hold thousands of them
      this.#bodies = this.#bodies.filter((m) => {
        if (m.run !== run) return true;
        this.#bodyBytes -= m.body?.length ?? 0;
        m.body = null;
        return false;
      });
    }
    this.#emit({ type: 'reset', run });
  }

  #pushAttempt(a: AttemptRecord | MessageRecord): void {
    const evicted = this.#attempts.push(a);
    if (evicted) {
      this.#attemptsById.evict(evicted);
      this.#attemptsByRun.evict(evicted);
    }
    this.#attemptsById.add(a);
    this.#attemptsByRun.add(a);
  }

  #countReply(phase: AttemptPhase, code: number): void {
    // numeric key: no string built per attempt on the hot path
    const key = PHASES.indexOf(phase) * 1000 + code;
    this.#replies.set(key, (this.#replies.get(key) ?? 0) + 1);
  }

  #wakeWaiters(run: string | null, runCount: number): void {
    for (const w of this.#waiters) {
      const have = w.run === null ? this.counters.accepted : w.run === run ? runCount : -1;
      if (have >= w.count) w.done(have);
    }
  }

  #keepBody(m: MessageRecord): void {
    this.#bodies.push(m);
    this.#bodyBytes += m.body?.length ?? 0;
    while (this.#bodyBytes > this.limits.bodyBudget && this.#bodies.length) {
      const oldest = this.#bodies[0] as MessageRecord;
      this.#dropBody(oldest);
    }
  }

  #dropBody(m: MessageRecord): void {
    const i = this.#bodies.indexOf(m);
    if (i >= 0) this.#bodies.splice(i, 1);
    this.#bodyBytes -= m.body?.length ?? 0;
    m.body = null;
  }

  #emit(e: StoreEvent): void {
    for (const l of this.#listeners) l(e);
  }
}

/** A record as the API returns it: ISO times, parsed headers, no raw bytes. */
export function messageView(m: MessageRecord): Omit<MessageRecord, 'receivedAt' | 'headerBlock' | 'body'> & {
  receivedAt: string;
  headers: HeaderList;
  hasBody: boolean;
} {
  const { headerBlock, body, receivedAt, ...rest } = m;
  return { ...rest, receivedAt: new Date(receivedAt).toISOString(), headers: parseHeaderBlock(headerBlock), hasBody: body !== null };
}

function isMessage(e: AttemptRecord | MessageRecord): e is MessageRecord {
  return 'receivedAt' in e;
}

/** The attempt an accepted message stands for. */
function asAttempt(e: AttemptRecord | MessageRecord): AttemptRecord {
  if (!isMessage(e)) return e;
  return {
    time: e.receivedAt,
    phase: 'data',
    code: 250,
    mailFrom: e.mailFrom,
    rcptTo: e.rcptTo,
    messageId: e.messageId,
    run: e.run,
    attempt: e.attempt,
    fault: e.fault,
    clientAddress: e.clientAddress,
    note: null,
  };
}

export function attemptView(a: AttemptRecord): Omit<AttemptRecord, 'time'> & { time: string } {
  return { ...a, time: new Date(a.time).toISOString() };
}

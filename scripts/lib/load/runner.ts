// Runs a load: `concurrency` workers, each with its own transport slot (an SMTP connection, an
// HTTP request at a time), taking sequence numbers until the count or the duration is used up,
// paced by one shared Pacer unless the rate is unlimited. Transport-agnostic: SMTP and HTTP plug in.
import { setTimeout as delay } from 'node:timers/promises';
import { MessageFactory } from './message.js';
import { RecipientSampler, withTag, type MixEntry } from './mix.js';
import { Pacer, realClock, type Clock } from './pacer.js';
import { LoadStats, type LatencySummary, type Outcome, type Snapshot } from './stats.js';

/** One message to send (SMTP) or one injection request (HTTP). */
export interface Job {
  seq: number;
  from: string;
  recipients: string[];
  /** mix entry of each recipient */
  entries: number[];
  messageId: string;
  /** the header block; the body is shared (`content()` joins them) */
  headers: string;
  /** SMTP: the message as it goes after DATA (dot-stuffed, with the end-of-data line) */
  wire: (string | Buffer)[];
  size: number;
  content(): string;
  /** clock time it was handed out: latency runs from here to its outcome */
  issuedAt: number;
}

/** Where a slot gets its jobs and reports their outcomes. */
export interface JobSource {
  /** the next job if one is due right now (never waits) */
  poll(): Job | undefined;
  /** the next job, once it is due; undefined when the run is over */
  next(): Promise<Job | undefined>;
  done(job: Job, outcome: Outcome): void;
  /** resolves after ms, early when the run stops */
  pause(ms: number): Promise<void>;
}

export interface SlotHooks {
  /** a slot opened a connection (SMTP) */
  connected(): void;
}

/** One unit of concurrency: sends jobs from the source until it runs dry, then cleans up. */
export interface Slot {
  run(source: JobSource): Promise<void>;
}

export interface Transport {
  slot(hooks: SlotHooks): Slot;
  /** an outcome that must stop the whole run (wrong credentials): the error to throw */
  fatal?(outcome: Outcome): Error | undefined;
}

export interface RunPlan {
  run: string;
  from: string;
  mix: readonly MixEntry[];
  seed: number;
  recipientsPerMessage: number;
  size: number;
  /** per second; null: as fast as the target takes them */
  rate: number | null;
  burst: number;
  concurrency: number;
  count: number | null;
  durationMs: number | null;
}

export interface Tick {
  snapshot: Snapshot;
  /** messages sent per second over the last interval */
  sentPerSecond: number;
  acceptedPerSecond: number;
  /** latency of the messages completed during the last interval */
  window: LatencySummary;
}

export interface RunOptions {
  plan: RunPlan;
  transport: Transport;
  clock?: Clock;
  /** called about every tickMs while the run goes on */
  onTick?: (tick: Tick) => void;
  tickMs?: number;
  /** abort: stop taking new messages, let the ones in flight finish */
  signal?: AbortSignal;
}

export interface RunResult {
  snapshot: Snapshot;
  /** recipients drawn per mix entry */
  perEntry: number[];
  /** true when the signal stopped the run early */
  interrupted: boolean;
}

/** After a failed connect a slot waits before the next try: 50 ms, doubling, at most 1 s. */
export function connectBackoffMs(failuresInARow: number): number {
  return Math.min(1000, 50 * 2 ** Math.max(0, failuresInARow - 1));
}

/** Date headers change once a second: one Date object per second, not per message. */
class DateCache {
  #second = -1;
  #date = new Date();
  constructor(private readonly clock: Clock) {}
  now(): Date {
    const second = Math.floor(this.clock.now() / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#date = new Date();
    }
    return this.#date;
  }
}

export async function runLoad(o: RunOptions): Promise<RunResult> {
  const { plan, transport } = o;
  const clock = o.clock ?? realClock;
  const startedAt = clock.now();
  const stats = new LoadStats(plan.mix.length, startedAt);
  const sampler = new RecipientSampler(plan.mix, plan.seed);
  const factory = new MessageFactory(plan.run, plan.size);
  const dates = new DateCache(clock);
  const pacer = plan.rate === null ? undefined : new Pacer(plan.rate, plan.burst, clock);
  // --duration counts from the first message, not from before the connections opened. Paced, it
  // means rate x duration messages (the schedule's slots before the end), each sent even when its
  // timer fires a little late; the clock only stops a run whose target cannot keep up, a grace
  // period after the duration. Unpaced (--max), it is a time limit.
  const budget = plan.count ?? (plan.rate !== null && plan.durationMs !== null ? Math.ceil((plan.rate * plan.durationMs) / 1000 - 1e-9) : null);
  const grace = pacer && plan.durationMs !== null ? Math.max(1000, plan.durationMs / 10) : 0;
  let deadline = Infinity;
  let issued = 0;
  let inFlight = 0;
  let fatal: Error | undefined;
  const stopping = new AbortController();
  const stop = () => stopping.abort();
  o.signal?.addEventListener('abort', stop, { once: true });
  const stopped = () => stopping.signal.aborted;
  const exhausted = () => (budget !== null && issued >= budget) || clock.now() >= deadline;

  const issue = (): Job => {
    if (issued === 0 && plan.durationMs !== null) deadline = clock.now() + plan.durationMs + grace;
    const seq = ++issued;
    const recipients: string[] = [];
    const entries: number[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < plan.recipientsPerMessage; i++) {
      const pick = sampler.next();
      // one address twice in a transaction is one recipient to most servers: keep them distinct
      const address = seen.has(pick.address) ? withTag(pick.address, `r${i}`) : pick.address;
      seen.add(address);
      recipients.push(address);
      entries.push(pick.entry);
    }
    const headers = factory.headers({ run: plan.run, seq, from: plan.from, recipients, date: dates.now() });
    stats.sent(recipients.length, entries);
    inFlight++;
    return {
      seq,
      from: plan.from,
      recipients,
      entries,
      messageId: factory.messageId(seq),
      headers,
      wire: [headers, factory.bodyWire],
      size: Buffer.byteLength(headers) + factory.bodyWire.length,
      content: () => headers + factory.body,
      issuedAt: clock.now(),
    };
  };

  const pause = (ms: number) => delay(ms, undefined, { signal: stopping.signal }).catch(() => undefined);

  const source: JobSource = {
    poll: () => {
      if (stopped() || exhausted()) return undefined;
      if (pacer && !pacer.tryReserve()) return undefined;
      return issue();
    },
    next: async () => {
      if (stopped() || exhausted()) return undefined;
      if (pacer) {
        const wait = pacer.reserve();
        if (clock.now() + wait >= deadline) return undefined;
        if (wait > 0) await pause(wait);
        if (stopped() || exhausted()) return undefined;
      }
      return issue();
    },
    done: (job, outcome) => {
      inFlight--;
      stats.record(outcome, clock.now() - job.issuedAt);
      const bad = transport.fatal?.(outcome);
      if (bad) {
        fatal ??= bad;
        stop();
      }
    },
    pause,
  };

  let last = { at: startedAt, sent: 0, accepted: 0 };
  const tick = () => {
    const now = clock.now();
    const snapshot = stats.snapshot(now, inFlight);
    const seconds = Math.max(1e-3, (now - last.at) / 1000);
    o.onTick?.({
      snapshot,
      sentPerSecond: (snapshot.messages.sent - last.sent) / seconds,
      acceptedPerSecond: (snapshot.messages.accepted - last.accepted) / seconds,
      window: stats.window(),
    });
    last = { at: now, sent: snapshot.messages.sent, accepted: snapshot.messages.accepted };
  };
  const timer = o.onTick ? setInterval(tick, o.tickMs ?? 1000) : undefined;
  const workers: Promise<void>[] = [];
  try {
    for (let i = 0; i < plan.concurrency; i++) workers.push(transport.slot({ connected: () => stats.connections++ }).run(source));
    await Promise.all(workers);
  } finally {
    if (timer) clearInterval(timer);
    o.signal?.removeEventListener('abort', stop);
  }
  if (fatal) throw fatal;
  return { snapshot: stats.snapshot(clock.now(), 0), perEntry: [...stats.perEntry], interrupted: Boolean(o.signal?.aborted) };
}

export type { Snapshot };

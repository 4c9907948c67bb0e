// Counters and latency of a load run. Latencies go into node's built-in HdrHistogram
// (perf_hooks.createHistogram: 3 significant digits, native), in microseconds.
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { ERROR_KINDS, type ErrorKind } from './smtp-client.js';

export type RefusalClass = '4xx' | '5xx';

/** What became of one message (SMTP transaction) or one injection request (HTTP). */
export type Outcome =
  | {
      kind: 'reply';
      /** 2xx: the server took it */
      accepted: boolean;
      /** the deciding reply code (SMTP) or HTTP status */
      code: number;
      /** how a refusal counts when the code does not say (HTTP 200 with every recipient failed) */
      refusal?: RefusalClass;
      recipients: { accepted: number; refused4xx: number; refused5xx: number };
      /** what the refusal said, for the summary's sample */
      text?: string;
    }
  | { kind: 'error'; error: ErrorKind; message: string };

export interface LatencySummary {
  count: number;
  min: number | null;
  mean: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export interface Counts {
  sent: number;
  accepted: number;
  refused: Record<RefusalClass, number>;
  errors: Record<ErrorKind, number>;
}

export interface Snapshot {
  /** ms since the run started */
  elapsedMs: number;
  messages: Counts;
  recipients: { sent: number; accepted: number; refused: Record<RefusalClass, number> };
  /** refusal codes and how often each was seen */
  codes: Record<string, number>;
  /** messages in flight */
  inFlight: number;
  connections: number;
  latencyMs: LatencySummary;
  /** the first message of each error kind, and a sample refusal per code */
  samples: { errors: Partial<Record<ErrorKind, string>>; refusals: Record<string, string> };
}

export function refusalClass(code: number): RefusalClass | undefined {
  return code >= 400 && code < 500 ? '4xx' : code >= 500 && code < 600 ? '5xx' : undefined;
}

const round = (n: number) => Math.round(n * 100) / 100;

/** Percentiles in ms from a histogram of microseconds; null when it is empty. */
export function latencySummary(h: RecordableHistogram): LatencySummary {
  if (h.count === 0) return { count: 0, min: null, mean: null, p50: null, p95: null, p99: null, max: null };
  const ms = (us: number) => round(us / 1000);
  return { count: h.count, min: ms(h.min), mean: ms(h.mean), p50: ms(h.percentile(50)), p95: ms(h.percentile(95)), p99: ms(h.percentile(99)), max: ms(h.max) };
}

export function newHistogram(): RecordableHistogram {
  return createHistogram({ lowest: 1, highest: 3_600_000_000, figures: 3 });
}

const zeroErrors = (): Record<ErrorKind, number> => Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) as Record<ErrorKind, number>;

export class LoadStats {
  readonly messages: Counts = { sent: 0, accepted: 0, refused: { '4xx': 0, '5xx': 0 }, errors: zeroErrors() };
  readonly recipients = { sent: 0, accepted: 0, refused: { '4xx': 0, '5xx': 0 } as Record<RefusalClass, number> };
  readonly codes = new Map<number, number>();
  readonly samples: Snapshot['samples'] = { errors: {}, refusals: {} };
  /** recipients per mix entry */
  readonly perEntry: number[];
  connections = 0;
  #latency = newHistogram();
  /** latencies since the last window() call, for the live view */
  #window = newHistogram();

  constructor(
    entries: number,
    readonly startedAt: number,
  ) {
    this.perEntry = new Array<number>(entries).fill(0);
  }

  /** A message (or request) with these recipients was handed to the transport. */
  sent(recipients: number, entries: readonly number[]): void {
    this.messages.sent++;
    this.recipients.sent += recipients;
    for (const e of entries) this.perEntry[e] = (this.perEntry[e] ?? 0) + 1;
  }

  record(outcome: Outcome, latencyMs: number): void {
    const us = Math.max(1, Math.round(latencyMs * 1000));
    this.#latency.record(us);
    this.#window.record(us);
    if (outcome.kind === 'error') {
      this.messages.errors[outcome.error]++;
      this.samples.errors[outcome.error] ??= outcome.message;
      return;
    }
    const r = outcome.recipients;
    this.recipients.accepted += r.accepted;
    this.recipients.refused['4xx'] += r.refused4xx;
    this.recipients.refused['5xx'] += r.refused5xx;
    if (outcome.accepted) {
      this.messages.accepted++;
      return;
    }
    const cls = outcome.refusal ?? refusalClass(outcome.code);
    if (cls === undefined) {
      // a reply outside 2xx/4xx/5xx where a verdict was due
      this.messages.errors.protocol++;
      this.samples.errors.protocol ??= `unexpected reply ${outcome.code} ${outcome.text ?? ''}`.trim();
      return;
    }
    this.messages.refused[cls]++;
    this.codes.set(outcome.code, (this.codes.get(outcome.code) ?? 0) + 1);
    this.samples.refusals[String(outcome.code)] ??= outcome.text ?? '';
  }

  /** Latency of the messages completed since the previous call, and resets it. */
  window(): LatencySummary {
    const s = latencySummary(this.#window);
    this.#window.reset();
    return s;
  }

  snapshot(now: number, inFlight: number): Snapshot {
    return {
      elapsedMs: now - this.startedAt,
      messages: { ...this.messages, refused: { ...this.messages.refused }, errors: { ...this.messages.errors } },
      recipients: { ...this.recipients, refused: { ...this.recipients.refused } },
      codes: Object.fromEntries([...this.codes.entries()].sort((a, b) => a[0] - b[0]).map(([c, n]) => [String(c), n])),
      inFlight,
      connections: this.connections,
      latencyMs: latencySummary(this.#latency),
      samples: { errors: { ...this.samples.errors }, refusals: { ...this.samples.refusals } },
    };
  }
}

// GET /api/events: a Server-Sent Events stream for the dashboard. Messages are batched once a second,
// so a burst of thousands of messages costs one small write per client, not one per message.
import type { ServerResponse } from 'node:http';
import type { FaultEngine } from '../faults/engine.js';
import { describeFaultSet } from '../faults/rules.js';
import { RateWindow } from '../record/rate.js';
import type { MessageRecord, SinkStore } from '../record/store.js';

const RECENT = 25;
/** Dashboards at once; a workshop projector plus attendees' laptops fit well under this. */
export const MAX_EVENT_CLIENTS = 100;
/** A client that stops reading is dropped once this much is queued for it, so it cannot grow the heap. */
export const MAX_QUEUED_BYTES = 1024 * 1024;
/** Complete seconds of rate each tick repeats. */
const TAIL = 5;

export interface MessageSummary {
  id: number;
  receivedAt: string;
  mailFrom: string;
  /** At most the first 5 recipients; rcptCount has the total. */
  rcptTo: string[];
  rcptCount: number;
  subject: string | null;
  run: string | null;
  size: number;
  tls: boolean;
  attempt: number;
}

export function summarize(m: MessageRecord): MessageSummary {
  return {
    id: m.id,
    receivedAt: new Date(m.receivedAt).toISOString(),
    mailFrom: m.mailFrom,
    rcptTo: m.rcptTo.slice(0, 5),
    rcptCount: m.rcptTo.length,
    subject: m.subject,
    run: m.run,
    size: m.size,
    tls: m.tls,
    attempt: m.attempt,
  };
}

export class EventHub {
  readonly rate = new RateWindow(300);
  readonly #clients = new Set<ServerResponse>();
  #pending: MessageRecord[] = [];
  #ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: SinkStore,
    private readonly faults: FaultEngine,
    private readonly tickMs = 1000,
  ) {
    store.subscribe((e) => {
      if (e.type === 'message') {
        this.rate.add(e.record.receivedAt);
        if (this.#clients.size) {
          this.#pending.push(e.record);
          if (this.#pending.length > RECENT * 2) this.#pending = this.#pending.slice(-RECENT);
        }
      } else if (e.type === 'reset') {
        // what was queued for the next tick is gone too, or it would come back after the reset
        this.#pending = e.run === null ? [] : this.#pending.filter((m) => m.run !== e.run);
        if (e.run === null) this.rate.reset();
        this.broadcast('snapshot', this.snapshot());
      }
    });
  }

  snapshot() {
    const now = Date.now();
    return {
      stats: statsView(this.store, this.rate, now),
      /** per-second counts, oldest first; the last is `second`, still in progress */
      rate: this.rate.series(now),
      second: Math.floor(now / 1000),
      recent: this.store.messages({ limit: RECENT }).messages.map(summarize),
      faults: { ...describeFaultSet(this.faults.faultSet), hits: this.faults.hits() },
    };
  }

  attach(res: ServerResponse, headOnly = false): void {
    if (!headOnly && this.#clients.size >= MAX_EVENT_CLIENTS) {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '10' });
      res.end(JSON.stringify({ error: `too many live dashboards (at most ${MAX_EVENT_CLIENTS}); close one or poll /api/stats` }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    if (headOnly) {
      res.end();
      return;
    }
    this.#clients.add(res);
    res.on('close', () => {
      this.#clients.delete(res);
      if (!this.#clients.size) this.#stop();
    });
    write(res, 'snapshot', this.snapshot());
    this.#ticker ??= setInterval(() => this.#tick(), this.tickMs);
  }

  /** Pushes an event to every dashboard, e.g. when fault rules change. */
  broadcast(event: string, data: unknown): void {
    for (const res of this.#clients) write(res, event, data);
  }

  close(): void {
    this.#stop();
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }

  #tick(): void {
    const batch = this.#pending.slice(-RECENT).map(summarize);
    this.#pending = [];
    const now = Date.now();
    // The last few complete seconds, stamped: the interval drifts against the clock, so a client
    // merges by second instead of appending one value per tick (which would skip or repeat one).
    const series = this.rate.series(now);
    this.broadcast('tick', {
      stats: statsView(this.store, this.rate, now),
      second: Math.floor(now / 1000) - 1,
      recentRate: series.slice(-(TAIL + 1), -1),
      messages: batch,
      hits: this.faults.hits(),
    });
  }

  #stop(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
    this.#pending = [];
  }
}

function write(res: ServerResponse, event: string, data: unknown): void {
  if (res.destroyed) return;
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  // not reading: drop it (its 'close' handler forgets it) rather than buffer without bound
  if (res.writableLength > MAX_QUEUED_BYTES) res.destroy();
}

export function statsView(store: SinkStore, rate: RateWindow, now = Date.now()) {
  return {
    ...store.counters,
    activeConnections: store.activeConnections,
    delayedReplies: store.delayedReplies,
    since: new Date(store.since).toISOString(),
    ratePerSecond: Math.round(rate.perSecond(10, now) * 10) / 10,
    memory: memory(),
    stored: { messages: store.messageCount, attempts: store.attemptCount, bodyBytes: store.bodyBytes },
    limits: { ...store.limits },
  };
}

function memory() {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external + m.arrayBuffers };
}

// GET /api/events: a Server-Sent Events stream for the dashboard. Messages are batched once a second,
// so a burst of thousands of messages costs one small write per client, not one per message.
import type { ServerResponse } from 'node:http';
import type { FaultEngine } from '../faults/engine.js';
import { describeFaultSet } from '../faults/rules.js';
import { RateWindow } from '../record/rate.js';
import { attemptView, type AttemptRecord, type MessageRecord, type SinkStore } from '../record/store.js';
import { recentMessageIds, type Journey } from '../journey/join.js';
import { lookupJourneys } from '../journey/lookup.js';
import { kumoCounts, type JourneyStore } from '../journey/store.js';

const RECENT = 25;
/** Refused attempts and journeys the dashboard lists. */
const RECENT_REFUSED = 25;
const RECENT_JOURNEYS = 12;
/** Dashboards at once; a workshop projector plus attendees' laptops fit well under this. */
export const MAX_EVENT_CLIENTS = 100;
/** A client that stops reading is dropped once this much is queued for it, so it cannot grow the heap. */
export const MAX_QUEUED_BYTES = 1024 * 1024;
/** Complete seconds of rate each tick repeats. */
const TAIL = 5;

export interface MessageSummary {
  id: number;
  messageId: string | null;
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
    messageId: m.messageId,
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

/** One line of the dashboard's journey list. */
export interface JourneySummary {
  messageId: string | null;
  subject: string | null;
  run: string | null;
  status: Journey['status'];
  firstSeen: string;
  lastSeen: string;
  recipients: number;
  deferrals: number;
  refusals: number;
  /** kumod's records are part of it (false: the sink's view only) */
  kumod: boolean;
}

export function summarizeJourney(j: Journey): JourneySummary {
  return {
    messageId: j.messageId,
    subject: j.subject,
    run: j.run,
    status: j.status,
    firstSeen: j.firstSeen,
    lastSeen: j.lastSeen,
    recipients: j.timelines.length,
    deferrals: j.timelines.reduce((n, t) => n + t.deferrals, 0),
    refusals: j.timelines.reduce((n, t) => n + t.refusals, 0),
    kumod: j.timelines.some((t) => t.steps.some((s) => s.source === 'kumod')),
  };
}

/** The newest journeys, newest first. */
export function recentJourneys(store: SinkStore, journey: JourneyStore | undefined, limit: number): JourneySummary[] {
  const events = journey?.events() ?? [];
  const ids = recentMessageIds(events, store.attemptRecords(), limit);
  if (!ids.length) return [];
  const found = new Map(lookupJourneys(journey, store, { messageIds: ids }).map((j) => [j.messageId, j]));
  return ids.flatMap((id) => {
    const j = found.get(id);
    return j ? [summarizeJourney(j)] : [];
  });
}

export class EventHub {
  readonly rate = new RateWindow(300);
  readonly #clients = new Set<ServerResponse>();
  #pending: MessageRecord[] = [];
  #refused: AttemptRecord[] = [];
  /** something a journey shows changed since the last tick */
  #journeysDirty = false;
  #ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: SinkStore,
    private readonly faults: FaultEngine,
    private readonly tickMs = 1000,
    private readonly journey?: JourneyStore,
  ) {
    journey?.subscribe(() => {
      this.#journeysDirty = true;
    });
    store.subscribe((e) => {
      if (e.type !== 'reset') this.#journeysDirty = true;
      if (e.type === 'attempt' && this.#clients.size && (e.record.code >= 400 || e.record.code === 0)) {
        this.#refused.push(e.record);
        if (this.#refused.length > RECENT_REFUSED * 2) this.#refused = this.#refused.slice(-RECENT_REFUSED);
      }
      if (e.type === 'message') {
        this.rate.add(e.record.receivedAt);
        if (this.#clients.size) {
          this.#pending.push(e.record);
          if (this.#pending.length > RECENT * 2) this.#pending = this.#pending.slice(-RECENT);
        }
      } else if (e.type === 'reset') {
        // what was queued for the next tick is gone too, or it would come back after the reset
        this.#pending = e.run === null ? [] : this.#pending.filter((m) => m.run !== e.run);
        this.#refused = e.run === null ? [] : this.#refused.filter((a) => a.run !== e.run);
        if (e.run === null) this.rate.reset();
        this.broadcast('snapshot', this.snapshot());
      }
    });
  }

  snapshot() {
    const now = Date.now();
    return {
      stats: statsView(this.store, this.rate, now, this.journey),
      /** per-second counts, oldest first; the last is `second`, still in progress */
      rate: this.rate.series(now),
      second: Math.floor(now / 1000),
      recent: this.store.messages({ limit: RECENT }).messages.map(summarize),
      /** refused attempts (4xx, 5xx, dropped), oldest first */
      refused: this.store.refusals(RECENT_REFUSED).map(attemptView),
      journeys: recentJourneys(this.store, this.journey, RECENT_JOURNEYS),
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
    const refused = this.#refused.slice(-RECENT_REFUSED).map(attemptView);
    this.#refused = [];
    // the journey list is rebuilt only when something changed, not every second
    const journeys = this.#journeysDirty ? recentJourneys(this.store, this.journey, RECENT_JOURNEYS) : undefined;
    this.#journeysDirty = false;
    const now = Date.now();
    // The last few complete seconds, stamped: the interval drifts against the clock, so a client
    // merges by second instead of appending one value per tick (which would skip or repeat one).
    const series = this.rate.series(now);
    this.broadcast('tick', {
      stats: statsView(this.store, this.rate, now, this.journey),
      second: Math.floor(now / 1000) - 1,
      recentRate: series.slice(-(TAIL + 1), -1),
      messages: batch,
      refused,
      journeys,
      hits: this.faults.hits(),
    });
  }

  #stop(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
    this.#pending = [];
    this.#refused = [];
  }
}

function write(res: ServerResponse, event: string, data: unknown): void {
  if (res.destroyed) return;
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  // not reading: drop it (its 'close' handler forgets it) rather than buffer without bound
  if (res.writableLength > MAX_QUEUED_BYTES) res.destroy();
}

export function statsView(store: SinkStore, rate: RateWindow, now = Date.now(), journey?: JourneyStore) {
  return {
    ...store.counters,
    activeConnections: store.activeConnections,
    delayedReplies: store.delayedReplies,
    since: new Date(store.since).toISOString(),
    ratePerSecond: Math.round(rate.perSecond(10, now) * 10) / 10,
    memory: memory(),
    stored: { messages: store.messageCount, attempts: store.attemptCount, bodyBytes: store.bodyBytes },
    limits: { ...store.limits, maxJourneyRecords: journey?.capacity ?? 0 },
    /** kumod's own account, from the log records its hook posted (zeros without the hook) */
    journey: { ...kumoCounts(journey?.counters ?? { records: 0, invalid: 0, batches: 0, byType: {} }), stored: journey?.size ?? 0, since: new Date(journey?.since ?? store.since).toISOString() },
  };
}

function memory() {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external + m.arrayBuffers };
}

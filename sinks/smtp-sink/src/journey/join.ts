// One journey per message: kumod's log records and the sink's own attempts joined by Message-ID
// (and by the X-Mailkind-Run header), one timeline per recipient in time order, and a list post as
// a tree (the post, its delivery to Mailman, each member's copy back through kumod). Pure.
//
// Mailman 3.3.10 keeps the post's Message-ID on every member copy (it only adds Message-ID-Hash,
// mailman/utilities/email.py add_message_hash). It replaces the Message-ID only for anonymous lists
// (mailman/handlers/cleanse.py) and when DMARC mitigation wraps the message
// (mailman/handlers/dmarc.py); such copies start a journey of their own. A member copy's envelope
// sender is the list's bounce address `<list>-bounces@<domain>`
// (mailman/model/mailinglist.py bounces_address), or `<list>-bounces+<member>@<domain>` with VERP
// (mailman/config/schema.cfg verp_format): that is how a copy finds its parent timeline.
import type { AttemptRecord } from '../record/store.js';
import type { KumoEvent } from './records.js';

export type StepSource = 'kumod' | 'sink';

export interface JourneyStep {
  time: string;
  source: StepSource;
  /** a KumoMTA record type, or for the sink: "Accepted", "Refused", "Dropped" */
  kind: string;
  code: number | null;
  /** the reply text (kumod: the peer's response; sink: the fault or note) */
  text: string | null;
  /** where: kumod's queue and site, the sink's phase and client */
  where: string | null;
  /** kumod's num_attempts, or the sink's attempt number for this message and recipient */
  attempt: number | null;
  node: string | null;
}

export type TimelineStatus = 'delivered' | 'bounced' | 'expired' | 'rejected' | 'refused' | 'queued';

export interface Timeline {
  recipient: string;
  status: TimelineStatus;
  /** the list address this copy was fanned out from (Mailman), or null */
  parent: string | null;
  /** kumod TransientFailure records */
  deferrals: number;
  /** the sink's 4xx/5xx replies and dropped connections */
  refusals: number;
  steps: JourneyStep[];
}

export interface Journey {
  messageId: string | null;
  run: string | null;
  subject: string | null;
  status: TimelineStatus;
  firstSeen: string;
  lastSeen: string;
  timelines: Timeline[];
}

export type JourneyQuery = { messageId: string } | { run: string } | { messageIds: readonly string[] };

/** Order within one instant: a reception before an attempt, the sink's reply before kumod logs it. */
const RANK: Record<string, number> = { Reception: 0, Rejection: 0, XferIn: 0, Delayed: 1, AdminRebind: 1, DeferredInjectionRebind: 1, sink: 2 };
const rank = (s: { source: StepSource; kind: string }) => (s.source === 'sink' ? RANK.sink! : (RANK[s.kind] ?? 3));

const FINAL: Record<string, TimelineStatus> = { Delivery: 'delivered', Bounce: 'bounced', AdminBounce: 'bounced', OOB: 'bounced', Expiration: 'expired', Rejection: 'rejected' };
/** the journey's status is the worst of its timelines' */
const SEVERITY: TimelineStatus[] = ['bounced', 'expired', 'rejected', 'refused', 'queued', 'delivered'];

export function bareMessageId(id: string): string {
  const m = /<([^>]*)>/.exec(id);
  return (m?.[1] ?? id).trim();
}

interface RawStep extends JourneyStep {
  ms: number;
  seq: number;
  recipient: string;
  sender: string | null;
}

function kumoSteps(e: KumoEvent): RawStep[] {
  const received = e.type === 'Reception' || e.type === 'Rejection' || e.type === 'XferIn';
  const via = e.receptionProtocol ? `via ${e.receptionProtocol}${e.peer ? ` from ${e.peer}` : ''}` : null;
  const where = received ? via : [e.queue, e.site].filter(Boolean).join(' → ') || via;
  const recipients = e.recipients.length ? e.recipients : [''];
  return recipients.map((rcpt) => ({
    ms: e.time,
    seq: e.seq,
    recipient: rcpt.toLowerCase(),
    sender: e.sender,
    time: new Date(e.time).toISOString(),
    source: 'kumod',
    kind: e.type,
    code: e.code,
    text: e.content === null ? null : [e.enhancedCode, e.content].filter(Boolean).join(' '),
    where,
    attempt: e.numAttempts,
    node: e.nodeId,
  }));
}

function sinkSteps(a: AttemptRecord, seq: number): RawStep[] {
  const kind = a.code === 0 ? 'Dropped' : a.code < 400 ? 'Accepted' : 'Refused';
  const text = [a.fault ? `fault ${a.fault}` : null, a.note].filter(Boolean).join('; ') || null;
  return a.rcptTo.map((rcpt) => ({
    ms: a.time,
    seq,
    recipient: rcpt.toLowerCase(),
    sender: a.mailFrom,
    time: new Date(a.time).toISOString(),
    source: 'sink',
    kind,
    code: a.code,
    text,
    where: `${a.phase === 'data' ? 'after DATA' : `at ${a.phase.toUpperCase()}`} from ${a.clientAddress}`,
    attempt: a.attempt,
    node: null,
  }));
}

function timelineStatus(steps: readonly RawStep[]): TimelineStatus {
  // the last final kumod record decides; then the sink's last word; else still queued
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i]!;
    if (s.source === 'kumod' && FINAL[s.kind]) return FINAL[s.kind]!;
  }
  const sink = steps.filter((s) => s.source === 'sink');
  const last = sink.at(-1);
  if (last?.kind === 'Accepted') return 'delivered';
  if (steps.some((s) => s.source === 'kumod')) return 'queued';
  return last && last.code !== null && last.code >= 500 ? 'refused' : 'queued';
}

/** `<list>-bounces@<domain>` or `<list>-bounces+...@<domain>` -> `<list>@<domain>`. */
export function listOfBounceAddress(sender: string | null): string | null {
  const m = sender ? /^(.+?)-bounces(?:\+[^@]*)?@(.+)$/i.exec(sender) : null;
  return m ? `${m[1]}@${m[2]}`.toLowerCase() : null;
}

/**
 * Builds the journeys of the messages that match the query. kumod records and sink attempts are
 * matched by Message-ID; with a run, by the run header, plus every record sharing a Message-ID with
 * one of the run's (a member copy whose run header a list dropped still joins its post).
 */
export function buildJourneys(events: Iterable<KumoEvent>, attempts: Iterable<AttemptRecord>, query: JourneyQuery): Journey[] {
  const kumo = [...events];
  const sink = [...attempts];
  let ids: Set<string>;
  if ('messageId' in query) {
    ids = new Set([bareMessageId(query.messageId)]);
  } else if ('messageIds' in query) {
    ids = new Set(query.messageIds.map(bareMessageId));
  } else {
    ids = new Set();
    for (const e of kumo) if (e.run === query.run && e.messageId) ids.add(e.messageId);
    for (const a of sink) if (a.run === query.run && a.messageId) ids.add(a.messageId);
  }
  const groups = new Map<string, { run: string | null; subject: string | null; steps: RawStep[] }>();
  const group = (key: string) => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { run: null, subject: null, steps: [] }));
    return g;
  };
  for (const e of kumo) {
    // a run's records without a Message-ID (none should lack one: the policy adds it) group by spool id
    const key = e.messageId && ids.has(e.messageId) ? e.messageId : 'run' in query && e.run === query.run && !e.messageId ? `spool:${e.spoolId ?? e.seq}` : null;
    if (!key) continue;
    const g = group(key);
    g.run ??= e.run;
    g.subject ??= e.subject;
    g.steps.push(...kumoSteps(e));
  }
  let seq = 0;
  for (const a of sink) {
    seq++;
    if (!a.messageId || !ids.has(a.messageId)) continue;
    const g = group(a.messageId);
    g.run ??= a.run;
    g.steps.push(...sinkSteps(a, -1_000_000_000 + seq));
  }
  const journeys: Journey[] = [];
  for (const [key, g] of groups) {
    g.steps.sort((x, y) => x.ms - y.ms || rank(x) - rank(y) || x.seq - y.seq);
    const byRcpt = new Map<string, RawStep[]>();
    for (const s of g.steps) {
      const list = byRcpt.get(s.recipient) ?? [];
      list.push(s);
      byRcpt.set(s.recipient, list);
    }
    const timelines: Timeline[] = [];
    for (const [recipient, steps] of byRcpt) {
      const list = steps.map((s) => listOfBounceAddress(s.sender)).find((l) => l !== null && l !== recipient && byRcpt.has(l)) ?? null;
      timelines.push({
        recipient,
        status: timelineStatus(steps),
        parent: list,
        deferrals: steps.filter((s) => s.source === 'kumod' && s.kind === 'TransientFailure').length,
        refusals: steps.filter((s) => s.source === 'sink' && s.kind !== 'Accepted').length,
        steps: steps.map(({ ms: _ms, seq: _seq, recipient: _r, sender: _s, ...step }) => step),
      });
    }
    // the post first, each list's members right after it, then the rest by first appearance
    const first = (t: Timeline) => t.steps[0]?.time ?? '';
    timelines.sort((a, b) => (a.parent ?? a.recipient).localeCompare(b.parent ?? b.recipient) || Number(a.parent !== null) - Number(b.parent !== null) || first(a).localeCompare(first(b)));
    timelines.sort((a, b) => first(byRoot(timelines, a)).localeCompare(first(byRoot(timelines, b))));
    const status = SEVERITY.find((s) => timelines.some((t) => t.status === s)) ?? 'queued';
    journeys.push({
      messageId: key.startsWith('spool:') ? null : key,
      run: g.run,
      subject: g.subject,
      status,
      firstSeen: g.steps[0]!.time,
      lastSeen: g.steps.at(-1)!.time,
      timelines,
    });
  }
  // by first sight, then by Message-ID: an order that does not depend on how the records were read
  return journeys.sort((a, b) => a.firstSeen.localeCompare(b.firstSeen) || (a.messageId ?? '').localeCompare(b.messageId ?? ''));
}

function byRoot(all: readonly Timeline[], t: Timeline): Timeline {
  return t.parent ? (all.find((x) => x.recipient === t.parent) ?? t) : t;
}

/**
 * The Message-IDs last seen by kumod or the sink, newest first (at most `limit`), for the
 * dashboard's list of recent journeys.
 */
export function recentMessageIds(events: Iterable<KumoEvent>, attempts: Iterable<AttemptRecord>, limit: number): string[] {
  const last = new Map<string, number>();
  for (const e of events) if (e.messageId) last.set(e.messageId, Math.max(last.get(e.messageId) ?? 0, e.time));
  for (const a of attempts) if (a.messageId) last.set(a.messageId, Math.max(last.get(a.messageId) ?? 0, a.time));
  return [...last].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([id]) => id);
}

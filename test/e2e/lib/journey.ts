// KumoMTA's own account of a scenario's mail, read from the sink's journey API (kumod's log hook,
// manifests/base/policy/kumomta/journey.lua, posts every record there). The checks are pure
// functions of a journey that return the problems found (empty: all good), so a scenario asserts
// `toEqual([])` and a failure names what kumod did instead; test/unit/e2e/journey.test.ts runs them.
import type { SinkClient, SinkJourney } from '../../../scripts/lib/clients/sink-client.js';
import { checkThrottle, percentile, type ThrottleVerdict } from './measure.js';

type Timeline = SinkJourney['timelines'][number];

function timeline(j: SinkJourney, recipient: string): Timeline | undefined {
  const want = recipient.toLowerCase();
  return j.timelines.find((t) => t.recipient === want);
}

/** kumod's record types for one recipient, in time order ("Reception", "TransientFailure", ...). */
export function kumoKinds(j: SinkJourney, recipient: string): string[] {
  return (timeline(j, recipient)?.steps ?? []).filter((s) => s.source === 'kumod').map((s) => s.kind);
}

const count = (kinds: readonly string[], kind: string) => kinds.filter((k) => k === kind).length;
const describe = (kinds: readonly string[]) => (kinds.length ? kinds.join(', ') : 'no kumod record');

/** Retry: `deferrals` TransientFailure records, then exactly one Delivery, nothing after it. */
export function retryProblems(j: SinkJourney, recipient: string, deferrals = 2): string[] {
  const kinds = kumoKinds(j, recipient);
  const problems: string[] = [];
  if (count(kinds, 'TransientFailure') !== deferrals) problems.push(`expected ${deferrals} TransientFailure records, kumod logged ${count(kinds, 'TransientFailure')} (${describe(kinds)})`);
  if (count(kinds, 'Delivery') !== 1) problems.push(`expected exactly one Delivery, kumod logged ${count(kinds, 'Delivery')} (${describe(kinds)})`);
  else if (kinds.lastIndexOf('TransientFailure') > kinds.indexOf('Delivery')) problems.push(`a TransientFailure came after the Delivery (${describe(kinds)})`);
  return problems;
}

/** Permfail: a Bounce and no Delivery. */
export function bounceProblems(j: SinkJourney, recipient: string): string[] {
  const kinds = kumoKinds(j, recipient);
  const problems: string[] = [];
  if (count(kinds, 'Bounce') < 1) problems.push(`expected a Bounce, kumod logged ${describe(kinds)}`);
  if (count(kinds, 'Delivery') > 0) problems.push(`a bounced message was also delivered (${describe(kinds)})`);
  return problems;
}

/** Durability: a Reception before the pod was killed and exactly one Delivery after it. */
export function durabilityProblems(j: SinkJourney, recipient: string, killedAt: number): string[] {
  const steps = (timeline(j, recipient)?.steps ?? []).filter((s) => s.source === 'kumod');
  const problems: string[] = [];
  const received = steps.filter((s) => s.kind === 'Reception');
  if (!received.some((s) => Date.parse(s.time) < killedAt)) problems.push(`no Reception before the pod was killed (${describe(steps.map((s) => s.kind))})`);
  const after = steps.filter((s) => s.kind === 'Delivery' && Date.parse(s.time) >= killedAt).length;
  const before = steps.filter((s) => s.kind === 'Delivery' && Date.parse(s.time) < killedAt).length;
  if (after + before !== 1 || after !== 1) problems.push(`expected exactly one Delivery after the kill, kumod logged ${before} before and ${after} after`);
  return problems;
}

/**
 * A list post: the post delivered exactly once to Mailman (LMTP; its site names the Mailman
 * host), and each member's copy received back from Mailman and delivered exactly once.
 */
export function listProblems(j: SinkJourney, list: string, members: readonly string[], mailmanHost = 'mailman-core'): string[] {
  const problems: string[] = [];
  const post = timeline(j, list);
  const postDeliveries = (post?.steps ?? []).filter((s) => s.source === 'kumod' && s.kind === 'Delivery');
  if (postDeliveries.length !== 1) problems.push(`expected one delivery of the post to Mailman, kumod logged ${postDeliveries.length}`);
  else if (!postDeliveries[0]!.where?.includes(mailmanHost)) problems.push(`the post was delivered to ${postDeliveries[0]!.where ?? '(unknown)'}, not to ${mailmanHost}`);
  for (const m of members) {
    const t = timeline(j, m);
    if (!t) {
      problems.push(`no copy for member ${m}`);
      continue;
    }
    const kinds = kumoKinds(j, m);
    if (count(kinds, 'Reception') !== 1 || count(kinds, 'Delivery') !== 1) problems.push(`member ${m}: expected one Reception and one Delivery, kumod logged ${describe(kinds)}`);
    if (t.parent !== list.toLowerCase()) problems.push(`member ${m}: its copy is not joined to the post (parent ${t.parent ?? 'none'})`);
  }
  return problems;
}

/**
 * Throttle: how long each message waited in kumod, Reception to Delivery, in ms, and how far apart
 * the first and last Delivery are. With N messages at R/s and a burst of B, the spread is at
 * least (N - B) / R seconds when the throttle holds.
 */
export function throttleDelays(journeys: readonly SinkJourney[]): { delaysMs: number[]; deliverySpreadMs: number } {
  const delaysMs: number[] = [];
  const deliveries: number[] = [];
  for (const j of journeys) {
    for (const t of j.timelines) {
      const k = t.steps.filter((s) => s.source === 'kumod');
      const received = k.find((s) => s.kind === 'Reception');
      const delivered = k.find((s) => s.kind === 'Delivery');
      if (delivered) deliveries.push(Date.parse(delivered.time));
      if (received && delivered) delaysMs.push(Date.parse(delivered.time) - Date.parse(received.time));
    }
  }
  return { delaysMs, deliverySpreadMs: deliveries.length ? Math.max(...deliveries) - Math.min(...deliveries) : 0 };
}

/** The journey that has a timeline for `recipient` (each scenario message has its own Message-ID). */
export function journeyOf(journeys: readonly SinkJourney[], recipient: string): SinkJourney | undefined {
  const want = recipient.toLowerCase();
  return journeys.find((j) => j.timelines.some((t) => t.recipient === want));
}

/** Recipients for which kumod has logged no record of `kind` yet (a condition to wait on). */
export function lacking(journeys: readonly SinkJourney[], recipients: readonly string[], kind: string): string[] {
  return recipients.filter((r) => {
    const j = journeyOf(journeys, r);
    return !j || !kumoKinds(j, r).includes(kind);
  });
}

/**
 * Durability over a whole run: every recipient's message has a Reception before the kill and
 * exactly one Delivery after it; problems are prefixed with the recipient.
 */
export function runDurabilityProblems(journeys: readonly SinkJourney[], recipients: readonly string[], killedAt: number): string[] {
  return recipients.flatMap((r) => {
    const j = journeyOf(journeys, r);
    if (!j) return [`${r}: no journey (kumod posted no record of it)`];
    return durabilityProblems(j, r, killedAt).map((p) => `${r}: ${p}`);
  });
}

export interface ThrottleAccount {
  /** how long each message waited in kumod, Reception to Delivery (ms), and their spread */
  delaysMs: number[];
  deliverySpreadMs: number;
  medianDelayMs: number;
  maxDelayMs: number;
  /** kumod's Delivery times judged like the sink's arrivals */
  verdict: ThrottleVerdict;
  problems: string[];
}

/**
 * Throttle in kumod's own account: each of the `n` messages received and delivered once, and its
 * Delivery times within the limit (the same GCRA check as the sink's arrival times, so a throttle
 * that held only by chance of the delivery path cannot pass on one side and fail on the other).
 */
export function throttleAccount(journeys: readonly SinkJourney[], recipients: readonly string[], rate: number, burst: number, tolerance: { rateFactor: number; extraMessages: number }): ThrottleAccount {
  const problems: string[] = [];
  const deliveries: number[] = [];
  for (const r of recipients) {
    const j = journeyOf(journeys, r);
    const kinds = j ? kumoKinds(j, r) : [];
    if (count(kinds, 'Reception') !== 1 || count(kinds, 'Delivery') !== 1) problems.push(`${r}: expected one Reception and one Delivery, kumod logged ${describe(kinds)}`);
    const step = j?.timelines.find((t) => t.recipient === r.toLowerCase())?.steps.find((s) => s.source === 'kumod' && s.kind === 'Delivery');
    if (step) deliveries.push(Date.parse(step.time));
  }
  const { delaysMs, deliverySpreadMs } = throttleDelays(journeys.filter((j) => recipients.some((r) => j.timelines.some((t) => t.recipient === r.toLowerCase()))));
  const verdict = checkThrottle(deliveries, rate, burst, tolerance);
  if (!verdict.ok) problems.push(`kumod's Delivery records: ${verdict.worst.count} deliveries in ${verdict.worst.toMs - verdict.worst.fromMs} ms, allowed ${verdict.worst.allowed}`);
  return {
    delaysMs,
    deliverySpreadMs,
    medianDelayMs: delaysMs.length ? percentile(delaysMs, 0.5) : Number.NaN,
    maxDelayMs: delaysMs.length ? Math.max(...delaysMs) : Number.NaN,
    verdict,
    problems,
  };
}

/**
 * The journey of a message once `done` holds for it (kumod posts records in batches, up to a
 * second after the fact), or the last one seen at the deadline. Polls the sink: it has no
 * long-poll for journeys.
 */
export async function journeyWhen(sink: SinkClient, messageId: string, done: (j: SinkJourney) => boolean, timeoutMs: number): Promise<SinkJourney | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: SinkJourney | undefined;
  for (;;) {
    last = (await sink.journey({ messageId })).journeys[0] ?? last;
    if ((last && done(last)) || Date.now() >= deadline) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The journeys of every message of a run once `done` holds for them, or the last ones seen at the
 * deadline (at most 1000 messages, the API's limit). Polls, like journeyWhen.
 */
export async function runJourneysWhen(sink: SinkClient, run: string, done: (js: SinkJourney[]) => boolean, timeoutMs: number): Promise<SinkJourney[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const js = (await sink.journey({ run }, 1000)).journeys;
    if (done(js) || Date.now() >= deadline) return js;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** An empty journey, for a check that must report "kumod logged nothing". */
export function emptyJourney(messageId: string): SinkJourney {
  return { messageId, run: null, subject: null, status: 'queued', firstSeen: '', lastSeen: '', timelines: [] };
}

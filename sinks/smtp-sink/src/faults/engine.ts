// Decides each attempt's fate: recipient local-part faults first, then runtime rules in order.
// Keeps the per-message attempt counts that tempfail-<n> and the records need; no I/O.
import { ACCEPT, formatAction, localPartFault, verdictFor, type Verdict } from './actions.js';
import { EMPTY_FAULT_SET, ruleMatches, rollFires, type FaultSet } from './rules.js';
import { BoundedMap } from '../record/ring.js';

export interface Decision {
  verdict: Verdict;
  /** Attempt keys of a DATA decision, for settle(). */
  keys?: string[];
  /** Which fault decided, for records and the dashboard: "local:tempfail-2", "rule:slow-mx:slow-200". */
  fault: string | null;
  /** 1 on the first attempt of this message (DATA) or this sender/recipient pair (RCPT). */
  attempt: number;
}

export interface DataAttempt {
  /** Identifies the message across retries and reconnections: its Message-ID, or a digest of its headers. */
  messageKey: string;
  mailFrom: string;
  rcptTo: readonly string[];
  run: string | null;
}

const PLAIN_RCPT: Decision = Object.freeze({ verdict: ACCEPT, fault: null, attempt: 1 });

export class FaultEngine {
  #set: FaultSet = EMPTY_FAULT_SET;
  #hasRcptRules = false;
  readonly #hits = new Map<string, number>();
  readonly #rcptAttempts: BoundedMap<string, number>;
  readonly #dataAttempts: BoundedMap<string, number>;

  /** `memory` bounds how many messages' attempt counts are remembered (oldest forgotten first). */
  constructor(memory = 100_000) {
    this.#rcptAttempts = new BoundedMap(memory);
    this.#dataAttempts = new BoundedMap(memory);
  }

  get faultSet(): FaultSet {
    return this.#set;
  }

  set faultSet(set: FaultSet) {
    this.#set = set;
    this.#hasRcptRules = set.rules.some((r) => r.phase === 'rcpt');
    this.#hits.clear();
  }

  /** How often each rule decided an attempt since it was set. */
  hits(): Record<string, number> {
    return Object.fromEntries(this.#hits);
  }

  /** Forgets attempt counts (DELETE /api/messages without a run). */
  forgetAttempts(): void {
    this.#rcptAttempts.clear();
    this.#dataAttempts.clear();
  }

  onRcpt(mailFrom: string, rcpt: string): Decision {
    const local = localPartFault(rcpt);
    const localAtRcpt = local?.phase === 'rcpt' ? local : null;
    if (!localAtRcpt && !this.#hasRcptRules) return PLAIN_RCPT;
    const key = `${mailFrom}\u0000${rcpt.toLowerCase()}`;
    const attempt = bump(this.#rcptAttempts, key);
    if (localAtRcpt) {
      const v = verdictFor(localAtRcpt.action, attempt);
      if (v) return { verdict: v, fault: `local:rcpt-${formatAction(localAtRcpt.action)}`, attempt };
    }
    return this.#fromRules('rcpt', { rcpt, mailFrom, run: null }, key, attempt) ?? { verdict: ACCEPT, fault: null, attempt };
  }

  /**
   * Decides a message after DATA. Call settle() with the outcome: only refused messages are
   * remembered, so the usual case (accepted at the first attempt) costs no memory at all.
   */
  onData(a: DataAttempt): Decision {
    let attempt = 0;
    let decided: Decision | null = null;
    const keys: string[] = [];
    for (const rcpt of a.rcptTo) {
      const key = `${a.messageKey}\u0000${rcpt.toLowerCase()}`;
      keys.push(key);
      const n = (this.#dataAttempts.get(key) ?? 0) + 1;
      attempt = Math.max(attempt, n);
      if (decided) continue; // keep counting the other recipients' attempts
      const local = localPartFault(rcpt);
      if (local?.phase === 'data') {
        const v = verdictFor(local.action, n);
        if (v) {
          decided = { verdict: v, fault: `local:${formatAction(local.action)}`, attempt: n };
          continue;
        }
      }
      decided = this.#fromRules('data', { rcpt, mailFrom: a.mailFrom, run: a.run }, key, n);
    }
    return decided ? { ...decided, attempt, keys } : { verdict: ACCEPT, fault: null, attempt: Math.max(attempt, 1), keys };
  }

  /** Records how a DATA attempt ended: delivered ones are forgotten, refused ones counted for the retry. */
  settle(d: Decision, delivered: boolean): void {
    for (const key of d.keys ?? []) {
      if (delivered) this.#dataAttempts.delete(key);
      else this.#dataAttempts.set(key, (this.#dataAttempts.get(key) ?? 0) + 1);
    }
  }

  #fromRules(phase: 'rcpt' | 'data', ctx: { rcpt: string; mailFrom: string; run: string | null }, key: string, attempt: number): Decision | null {
    for (const rule of this.#set.rules) {
      if (!ruleMatches(rule, phase, ctx)) continue;
      if (!rollFires(rule.probability, this.#set.seed, rule.id, key, attempt)) continue;
      const v = verdictFor(rule.parsed, attempt, rule.message);
      if (!v) continue;
      this.#hits.set(rule.id, (this.#hits.get(rule.id) ?? 0) + 1);
      return { verdict: v, fault: `rule:${rule.id}:${rule.action}`, attempt };
    }
    return null;
  }
}

function bump(map: Map<string, number>, key: string): number {
  const n = (map.get(key) ?? 0) + 1;
  map.set(key, n);
  return n;
}

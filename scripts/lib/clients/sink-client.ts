// Typed client of the smtp-sink HTTP API (docs/contract.md "The sink's API";
// sinks/smtp-sink/src/http/server.ts). The wire types come from the sink's own source (type-only
// imports, nothing of the sink is loaded), so the two cannot drift apart silently.
import type { FaultSetInput, Rule } from '../../../sinks/smtp-sink/src/faults/rules.js';
import type { statsView } from '../../../sinks/smtp-sink/src/http/events.js';
import type { attemptView, messageView } from '../../../sinks/smtp-sink/src/record/store.js';
import type { Journey, JourneyQuery } from '../../../sinks/smtp-sink/src/journey/join.js';
import type { JourneySummary } from '../../../sinks/smtp-sink/src/http/events.js';
import type { IngestResult } from '../../../sinks/smtp-sink/src/journey/store.js';
import { ClientError, excerpt, joinUrl, parseJson, send, type FetchLike } from './http.js';

const SERVICE = 'smtp-sink';
/**
 * One long-poll lasts at most this long; longer waits are several polls. The sink would hold one
 * for 10 minutes (MAX_WAIT_MS in its server.ts), but Node's fetch (undici) gives up on a response
 * whose headers take longer than its headersTimeout, 300 s by default, and reports a connection
 * error instead of the count. 4 minutes stays under it with room for the request itself.
 */
export const MAX_POLL_MS = 240_000;

export type SinkMessage = Omit<ReturnType<typeof messageView>, 'receivedAt'> & { receivedAt: string };
export type SinkAttempt = ReturnType<typeof attemptView>;
export type SinkStats = Omit<ReturnType<typeof statsView>, 'since'> & { since: string };
export type SinkFaultRule = Rule;
export interface SinkFaults {
  seed: number;
  rules: SinkFaultRule[];
  /** per rule id, how often it fired */
  hits: Record<string, number>;
}
export type SinkFaultsInput = FaultSetInput;
export type SinkJourney = Journey;
export type SinkJourneySummary = JourneySummary;
export interface SinkJourneys {
  query: { messageId?: string; run?: string };
  /** journeys that matched (count: how many are in `journeys`, at most the limit) */
  total: number;
  count: number;
  journeys: SinkJourney[];
}

export type MessageFilter = {
  run?: string;
  rcpt?: string;
  limit?: number;
};

export interface SinkClientOptions {
  fetchImpl?: FetchLike;
  /** deadline of a plain request (long-polls get their own wait plus this) */
  timeoutMs?: number;
}

export class SinkClient {
  readonly baseUrl: string;
  readonly #fetch: FetchLike | undefined;
  readonly #timeoutMs: number;
  #ringSize: number | undefined;

  constructor(baseUrl: string, options: SinkClientOptions = {}) {
    joinUrl(SERVICE, baseUrl, '/'); // validates now, not at the first call
    this.baseUrl = baseUrl;
    this.#fetch = options.fetchImpl;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  async #call(method: string, path: string, opts: { json?: unknown; timeoutMs?: number; ok?: number[] } = {}): Promise<{ status: number; body: unknown }> {
    const url = joinUrl(SERVICE, this.baseUrl, path);
    const init: RequestInit = { method, headers: opts.json === undefined ? {} : { 'content-type': 'application/json' } };
    if (opts.json !== undefined) init.body = JSON.stringify(opts.json);
    const res = await send(SERVICE, url, init, opts.timeoutMs ?? this.#timeoutMs, this.#fetch);
    const ok = opts.ok ?? [200];
    if (!ok.includes(res.status)) {
      const doc = safeJson(res.text) as { error?: string; details?: string[] } | undefined;
      const detail = doc?.error ? `${doc.error}${doc.details ? `: ${doc.details.join('; ')}` : ''}` : excerpt(res.text);
      throw new ClientError(SERVICE, res.status === 400 ? 'input' : 'http', `${SERVICE}: ${method} ${path} answered ${res.status}: ${detail}`, {
        status: res.status,
        body: res.text,
        retryable: res.status >= 500,
      });
    }
    return { status: res.status, body: parseJson(SERVICE, `the answer to ${method} ${path}`, res.text) };
  }

  /** GET /readyz: true when the sink listens for SMTP and is not shutting down. */
  async ready(): Promise<boolean> {
    const r = await this.#call('GET', '/readyz', { ok: [200, 503] });
    return r.status === 200;
  }

  async stats(): Promise<SinkStats> {
    return (await this.#call('GET', '/api/stats')).body as SinkStats;
  }

  /** Recorded messages, newest first. */
  async messages(filter: MessageFilter = {}): Promise<{ total: number; count: number; messages: SinkMessage[] }> {
    return (await this.#call('GET', `/api/messages${query(filter)}`)).body as { total: number; count: number; messages: SinkMessage[] };
  }

  /**
   * Every recorded message matching the filter, newest first: as many as the sink's ring holds
   * (--max-messages; `total` still counts only what the ring holds).
   */
  async allMessages(filter: Omit<MessageFilter, 'limit'> = {}): Promise<{ total: number; count: number; messages: SinkMessage[] }> {
    this.#ringSize ??= (await this.stats()).limits.maxMessages;
    return this.messages({ ...filter, limit: this.#ringSize });
  }

  /** Every attempt (accepted and refused), oldest first. */
  async attempts(filter: MessageFilter = {}): Promise<SinkAttempt[]> {
    return ((await this.#call('GET', `/api/attempts${query(filter)}`)).body as { attempts: SinkAttempt[] }).attempts;
  }

  /**
   * Long-polls until `count` messages of the run were accepted since the last reset, or the
   * deadline passes (then reached is false). Waits on the sink, never sleeps here.
   */
  async waitForCount(run: string, count: number, timeoutMs: number): Promise<{ reached: boolean; count: number }> {
    if (run === '') throw new ClientError(SERVICE, 'input', 'waitForCount: run is empty');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = Math.max(0, deadline - Date.now());
      const slice = Math.min(left, MAX_POLL_MS);
      const r = await this.#call('GET', `/api/messages/wait${query({ run, count, timeoutMs: slice })}`, { ok: [200, 408], timeoutMs: slice + this.#timeoutMs });
      const got = (r.body as { count: number }).count;
      if (r.status === 200) return { reached: true, count: got };
      if (Date.now() >= deadline) return { reached: false, count: got };
    }
  }

  /**
   * Waits until every recipient got at least one message of the run (a relay may put several
   * recipients in one transaction, so messages are not recipients). Returns the run's messages.
   */
  async waitForRecipients(run: string, recipients: readonly string[], timeoutMs: number): Promise<{ complete: boolean; missing: string[]; messages: SinkMessage[] }> {
    const deadline = Date.now() + timeoutMs;
    const wanted = recipients.map((r) => r.toLowerCase());
    for (;;) {
      const { messages } = await this.allMessages({ run });
      const seen = new Set(messages.flatMap((m) => m.rcptTo.map((r) => r.toLowerCase())));
      const missing = recipients.filter((_, i) => !seen.has(wanted[i] as string));
      const left = deadline - Date.now();
      if (missing.length === 0 || left <= 0) return { complete: missing.length === 0, missing, messages };
      await this.waitForCount(run, messages.length + 1, left);
    }
  }

  /**
   * GET /api/journey: kumod's log records and the sink's attempts of one message (by Message-ID,
   * with or without angle brackets) or of every message of a run, one timeline per recipient.
   */
  async journey(which: Exclude<JourneyQuery, { messageIds: readonly string[] }>, limit?: number): Promise<SinkJourneys> {
    const params = 'messageId' in which ? { messageId: which.messageId, limit } : { run: which.run, limit };
    return (await this.#call('GET', `/api/journey${query(params)}`)).body as SinkJourneys;
  }

  /** GET /api/journey/recent: the newest messages with their outcome. */
  async recentJourneys(limit?: number): Promise<SinkJourneySummary[]> {
    return ((await this.#call('GET', `/api/journey/recent${query({ limit })}`)).body as { journeys: SinkJourneySummary[] }).journeys;
  }

  /** POST /api/journey/records: kumod's log records (what its log hook posts); for tests and demos. */
  async postRecords(records: readonly unknown[]): Promise<IngestResult> {
    return (await this.#call('POST', '/api/journey/records', { json: records })).body as IngestResult;
  }

  /** DELETE /api/messages: one run's records, or everything (records, counters, attempt counts). */
  async reset(run?: string): Promise<void> {
    await this.#call('DELETE', `/api/messages${query({ run })}`);
  }

  async faults(): Promise<SinkFaults> {
    return (await this.#call('GET', '/api/faults')).body as SinkFaults;
  }

  /** Replaces the rule set; an invalid one is a ClientError of kind 'input' listing every problem. */
  async setFaults(set: SinkFaultsInput): Promise<SinkFaults> {
    return (await this.#call('PUT', '/api/faults', { json: set })).body as SinkFaults;
  }

  async clearFaults(): Promise<SinkFaults> {
    return (await this.#call('DELETE', '/api/faults')).body as SinkFaults;
  }

  /** Adds rules to the current set (read, append, write), for callers sharing the sink. */
  async addFaultRules(rules: SinkFaultsInput['rules']): Promise<SinkFaults> {
    const current = await this.faults();
    return this.setFaults({ seed: current.seed, rules: [...current.rules, ...(rules ?? [])] });
  }

  /** Removes the rules with these ids and leaves every other rule as it was. */
  async removeFaultRules(ids: readonly string[]): Promise<SinkFaults> {
    const current = await this.faults();
    return this.setFaults({ seed: current.seed, rules: current.rules.filter((r) => !ids.includes(r.id)) });
  }
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

// Client of KumoMTA's HTTP injection API, POST /api/inject/v1 (shared by the e2e suite and the
// load generator). Request and response follow docs/reference/http/kumod/api_inject_v1_post.md and
// schemas/{InjectV1Request,Recipient,Content,InjectV1Response}.md in KumoCorp/kumomta at release
// 2026.06.23-f3af1cd0 (the pinned image); status codes and error bodies from
// crates/kumod/src/http_server/inject_v1.rs and crates/kumo-server-common/src/http_server/auth.rs.
//
// One request carries many recipients; kumod makes one message per recipient. Every recipient gets
// its own Message-ID, so each message can be traced to the sink: the header is a template and the
// id a per-recipient substitution. Everything the caller gives (subject, text, header values) also
// goes in as a substitution, never into template text, so "{{" in a subject is just text.
import { randomBytes } from 'node:crypto';
import { ClientError, basicAuth, excerpt, joinUrl, parseJson, send, type FetchLike } from './http.js';

const SERVICE = 'KumoMTA';
export const INJECT_PATH = '/api/inject/v1';
/** The header every test or load message carries (docs/contract.md "Names"). */
export const RUN_HEADER = 'X-Mailkind-Run';
/** kumod's default request_body_limit is 2 MiB; this many recipients stays far below it. */
export const DEFAULT_BATCH_SIZE = 100;
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface InjectEndpoint {
  /** e.g. http://127.0.0.1:8000 */
  baseUrl: string;
  /** basic auth (Secret kumomta-http); omit only for a trusted (loopback) client */
  username?: string;
  password?: string;
}

export interface InjectMessage {
  /** envelope sender and From: header */
  from: string;
  recipients: readonly string[];
  subject: string;
  text: string;
  /** the X-Mailkind-Run value */
  run?: string;
  /** extra headers; Message-ID, X-Mailkind-Run, From, Subject and To are set by the client */
  headers?: Readonly<Record<string, string>>;
  /** one Message-ID per recipient, without angle brackets; generated when absent */
  messageIds?: readonly string[];
}

export interface InjectOptions {
  timeoutMs?: number;
  /**
   * Close the connection after the request, so the next one opens a new connection. Behind a
   * Kubernetes Service that spreads requests over the kumod replicas (the Service balances
   * connections, not requests).
   */
  newConnection?: boolean;
  fetchImpl?: FetchLike;
}

/** The documented request body (InjectV1Request with builder content), as far as this client uses it. */
export interface InjectV1Request {
  envelope_sender: string;
  recipients: { email: string; substitutions?: Record<string, string> }[];
  content: {
    from: { email: string };
    subject: string;
    text_body: string;
    headers: Record<string, string>;
  };
  substitutions: Record<string, string>;
}

/** The documented 200 body (InjectV1Response). */
export interface InjectV1Response {
  success_count: number;
  fail_count: number;
  failed_recipients: string[];
  errors: string[];
}

export interface InjectResult {
  successCount: number;
  failCount: number;
  failedRecipients: string[];
  errors: string[];
}

export interface InjectOutcome extends InjectResult {
  recipients: string[];
  /** aligned with recipients, without angle brackets (the sink records them that way) */
  messageIds: string[];
  /** epoch ms when the request was sent and when the answer was read */
  sentAt: number;
  answeredAt: number;
}

// Substitution names; the prefix keeps clear of kumod's predefined email, name and to_header.
const SUBST = { subject: 'mailkind_subject', text: 'mailkind_text', run: 'mailkind_run', messageId: 'mailkind_message_id', header: 'mailkind_header_' };
const template = (name: string): string => `{{ ${name} }}`;
const RESERVED_HEADERS = new Set(['message-id', RUN_HEADER.toLowerCase(), 'from', 'subject', 'to']);
// RFC 5322 field name: printable ASCII except ":"
const FIELD_NAME = /^[!-9;-~]+$/;
// deliberately simple: kumod parses the address; this catches the obvious mistakes before sending
const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;]+$/;
const MESSAGE_ID = /^[^\s<>]+@[^\s<>]+$/;

function inputError(message: string): ClientError {
  return new ClientError(SERVICE, 'input', `inject: ${message}`);
}

function noLineBreak(what: string, value: string): void {
  if (/[\r\n]/.test(value)) throw inputError(`${what} must not contain a line break`);
}

/** A fresh Message-ID (no angle brackets), unique enough to find one message among millions. */
export function makeMessageId(run?: string, index?: number, domain = 'mailkind.test'): string {
  const tag = (run ?? 'mailkind').replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
  return `${tag}${index === undefined ? '' : `.${index}`}.${randomBytes(6).toString('hex')}@${domain}`;
}

/** Splits a list into chunks of at most `size` (recipients per request). */
export function batchRecipients<T>(items: readonly T[], size: number = DEFAULT_BATCH_SIZE): T[][] {
  if (!Number.isInteger(size) || size < 1) throw inputError(`batch size must be a positive whole number, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The JSON body for one request, and the Message-ID each recipient's message will carry. */
export function buildInjectBody(msg: InjectMessage): { body: InjectV1Request; messageIds: string[] } {
  if (!ADDRESS.test(msg.from)) throw inputError(`from "${msg.from}" is not an email address`);
  if (msg.recipients.length === 0) throw inputError('no recipients');
  for (const r of msg.recipients) if (!ADDRESS.test(r)) throw inputError(`recipient "${r}" is not an email address`);
  noLineBreak('subject', msg.subject);
  if (msg.run !== undefined) {
    noLineBreak('run', msg.run);
    if (msg.run.trim() === '') throw inputError('run is empty');
  }
  const messageIds = msg.messageIds ? [...msg.messageIds] : msg.recipients.map((_, i) => makeMessageId(msg.run, i));
  if (messageIds.length !== msg.recipients.length) {
    throw inputError(`${messageIds.length} message ids for ${msg.recipients.length} recipients: give one per recipient`);
  }
  for (const id of messageIds) if (!MESSAGE_ID.test(id)) throw inputError(`message id "${id}" is not of the form local@domain (no angle brackets)`);

  const substitutions: Record<string, string> = { [SUBST.subject]: msg.subject, [SUBST.text]: msg.text };
  const headers: Record<string, string> = { 'Message-ID': `<${template(SUBST.messageId)}>` };
  if (msg.run !== undefined) {
    substitutions[SUBST.run] = msg.run;
    headers[RUN_HEADER] = template(SUBST.run);
  }
  Object.entries(msg.headers ?? {}).forEach(([name, value], i) => {
    if (!FIELD_NAME.test(name)) throw inputError(`header name "${name}" is not a valid field name`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw inputError(`header ${name} is set by the client (use from, subject, run or messageIds)`);
    noLineBreak(`header ${name}`, value);
    substitutions[`${SUBST.header}${i}`] = value;
    headers[name] = template(`${SUBST.header}${i}`);
  });

  const body: InjectV1Request = {
    envelope_sender: msg.from,
    recipients: msg.recipients.map((email, i) => ({ email, substitutions: { [SUBST.messageId]: messageIds[i] as string } })),
    content: { from: { email: msg.from }, subject: template(SUBST.subject), text_body: template(SUBST.text), headers },
    substitutions,
  };
  return { body, messageIds };
}

/** URL and fetch init for one request (basic auth, JSON, optional fresh connection). */
export function buildInjectRequest(
  endpoint: InjectEndpoint,
  msg: InjectMessage,
  options: Pick<InjectOptions, 'newConnection'> = {},
): { url: string; init: RequestInit & { headers: Record<string, string> }; messageIds: string[] } {
  const url = joinUrl(SERVICE, endpoint.baseUrl, INJECT_PATH);
  const { body, messageIds } = buildInjectBody(msg);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (endpoint.username !== undefined || endpoint.password !== undefined) {
    if (!endpoint.username || endpoint.password === undefined) throw inputError('give both username and password, or neither');
    headers.authorization = basicAuth(endpoint.username, endpoint.password);
  }
  if (options.newConnection) headers.connection = 'close';
  return { url, init: { method: 'POST', headers, body: JSON.stringify(body) }, messageIds };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/**
 * The answer to one request. 200 -> the counts (a 200 can still report failed recipients);
 * anything else -> ClientError: 401 'auth', other statuses 'http' (503 and 500 retryable: kumod
 * says "shutting down", "load shedding", "waiting for spool startup", "try again later"); a 200
 * whose body does not match InjectV1Response -> 'protocol'.
 */
export function parseInjectResponse(status: number, bodyText: string): InjectResult {
  if (status === 200) {
    const doc = parseJson(SERVICE, 'the inject response', bodyText);
    const r = doc as Partial<Record<keyof InjectV1Response, unknown>> | null;
    if (
      typeof r !== 'object' || r === null || Array.isArray(r) ||
      !isCount(r.success_count) || !isCount(r.fail_count) || !isStringArray(r.failed_recipients) || !isStringArray(r.errors)
    ) {
      throw new ClientError(SERVICE, 'protocol', `${SERVICE}: the inject response lacks success_count, fail_count, failed_recipients or errors: ${excerpt(bodyText)}`, { status });
    }
    return { successCount: r.success_count, failCount: r.fail_count, failedRecipients: r.failed_recipients, errors: r.errors };
  }
  const text = excerpt(bodyText);
  if (status === 401) {
    throw new ClientError(
      SERVICE,
      'auth',
      `${SERVICE} refused the injection credentials (401: ${text}); check the kumomta-http username and password (.mailkind/secrets.json, or MAILKIND_KUMO_HTTP_USER / MAILKIND_KUMO_HTTP_PASSWORD)`,
      { status, body: bodyText },
    );
  }
  const why =
    status === 422 ? 'the content has a syntax error' :
    status === 413 ? 'the request is over the listener\'s request_body_limit (2 MiB by default): send fewer recipients per request' :
    status === 503 ? 'kumod cannot take mail right now' :
    status >= 500 ? 'kumod failed' : 'kumod rejected the request';
  throw new ClientError(SERVICE, 'http', `${SERVICE}: ${why} (${status}: ${text})`, { status, body: bodyText, retryable: status === 503 || status === 500 });
}

/** Sends one request (all of msg.recipients) and reads the answer. */
export async function inject(endpoint: InjectEndpoint, msg: InjectMessage, options: InjectOptions = {}): Promise<InjectOutcome> {
  const { url, init, messageIds } = buildInjectRequest(endpoint, msg, options);
  const sentAt = Date.now();
  const res = await send(SERVICE, url, init, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, options.fetchImpl);
  const result = parseInjectResponse(res.status, res.text);
  return { ...result, recipients: [...msg.recipients], messageIds, sentAt, answeredAt: Date.now() };
}

export interface BatchedOptions extends InjectOptions {
  batchSize?: number;
  /** requests in flight at once */
  concurrency?: number;
}

/**
 * Many recipients in requests of batchSize, concurrency at a time. Resolves with one outcome per
 * request, in recipient order; the first error (auth, timeout, ...) rejects and stops the rest.
 */
export async function injectBatched(endpoint: InjectEndpoint, msg: InjectMessage, options: BatchedOptions = {}): Promise<InjectOutcome[]> {
  const size = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw inputError(`concurrency must be a positive whole number, got ${concurrency}`);
  const ids = msg.messageIds ?? msg.recipients.map((_, i) => makeMessageId(msg.run, i));
  if (ids.length !== msg.recipients.length) throw inputError(`${ids.length} message ids for ${msg.recipients.length} recipients`);
  const batches = batchRecipients(
    msg.recipients.map((r, i) => [r, ids[i] as string] as const),
    size,
  );
  const out: InjectOutcome[] = new Array<InjectOutcome>(batches.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    // after a failure no worker starts another request (the ones in flight finish)
    while (next < batches.length && !failed) {
      const i = next++;
      const batch = batches[i] as (readonly [string, string])[];
      try {
        out[i] = await inject(endpoint, { ...msg, recipients: batch.map(([r]) => r), messageIds: batch.map(([, id]) => id) }, options);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, worker));
  return out;
}

/** Adds up outcomes (e.g. of injectBatched). */
export function totalOf(outcomes: readonly InjectResult[]): InjectResult {
  return outcomes.reduce<InjectResult>(
    (t, o) => ({
      successCount: t.successCount + o.successCount,
      failCount: t.failCount + o.failCount,
      failedRecipients: [...t.failedRecipients, ...o.failedRecipients],
      errors: [...t.errors, ...o.errors],
    }),
    { successCount: 0, failCount: 0, failedRecipients: [], errors: [] },
  );
}

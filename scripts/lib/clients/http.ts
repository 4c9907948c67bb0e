// What the HTTP clients in this folder share: one error type with a kind callers can branch on,
// basic auth, URL joining, and a request wrapper that turns timeouts and refused connections
// into that error. No credentials ever go into a message: they travel in a header only.

/** The part of the Fetch API the clients use; tests pass a stand-in. */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export type ClientErrorKind =
  /** the caller's input is wrong (nothing was sent) */
  | 'input'
  /** the server refused the credentials (401) */
  | 'auth'
  /** the server answered with an error status */
  | 'http'
  /** no answer within the deadline */
  | 'timeout'
  /** no connection (refused, DNS, reset) */
  | 'connection'
  /** an answer that does not follow the documented format */
  | 'protocol';

export class ClientError extends Error {
  override name = 'ClientError';
  constructor(
    /** which service: "KumoMTA", "smtp-sink", "Mailman REST" */
    readonly service: string,
    readonly kind: ClientErrorKind,
    message: string,
    readonly details: { status?: number; body?: string; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }
  get status(): number | undefined {
    return this.details.status;
  }
  /** Worth retrying later as is (503, 5xx "try again later", timeouts, refused connections). */
  get retryable(): boolean {
    return this.details.retryable ?? (this.kind === 'timeout' || this.kind === 'connection');
  }
}

export function basicAuth(username: string, password: string): string {
  if (username.includes(':')) throw new ClientError('HTTP client', 'input', 'a basic-auth user name cannot contain ":"');
  return 'Basic ' + Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}

/** base + path, whatever slashes either has; a base with credentials in it is refused. */
export function joinUrl(service: string, base: string, path: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new ClientError(service, 'input', `base URL "${base}" is not a URL (expected e.g. http://127.0.0.1:8000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ClientError(service, 'input', `base URL "${base}" is not http(s)`);
  // credentials belong in the username/password options, never in a URL that may be logged
  if (url.username || url.password) throw new ClientError(service, 'input', 'base URL must not contain credentials; pass them as username and password');
  return url.origin + url.pathname.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}

/** The start of a response body for an error message: one line, bounded. */
export function excerpt(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat || '(empty body)';
}

export interface SentRequest {
  status: number;
  text: string;
  headers: Headers;
}

/**
 * Sends one request with a deadline. Timeouts and network failures become ClientError; an HTTP
 * error status does not (each client knows what its statuses mean).
 */
export async function send(
  service: string,
  url: string,
  init: RequestInit,
  timeoutMs: number,
  fetchImpl: FetchLike = fetch,
): Promise<SentRequest> {
  // A timer of our own, not AbortSignal.timeout: that one does not hold the process open, and a
  // fetch whose peer closed the connection before the request (docker-proxy with no backend yet)
  // holds nothing either; Node's fetch then never settles and the process exits with code 13
  // mid-await (seen in `up`'s reach step on the real kind cluster)
  const deadline = new AbortController();
  const where = `${init.method ?? 'GET'} ${url}`;
  let timer: NodeJS.Timeout | undefined;
  try {
    timer = setTimeout(() => deadline.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, deadline.signal]) : deadline.signal;
    const res = await fetchImpl(url, { ...init, signal });
    // the body may stall too; the same signal covers reading it
    const text = await res.text();
    return { status: res.status, text, headers: res.headers };
  } catch (e) {
    // the caller's own abort wins, whatever its reason; our deadline is a timeout
    if (init.signal?.aborted) throw e;
    if (deadline.signal.aborted) throw new ClientError(service, 'timeout', `${service}: no answer to ${where} within ${timeoutMs} ms`, { cause: e });
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const code = err.cause?.code ?? err.cause?.message ?? err.message;
    throw new ClientError(service, 'connection', `${service}: cannot reach ${where} (${code}); is it running and is the address right?`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
}

/** A JSON body, or a protocol error naming the service and an excerpt. */
export function parseJson(service: string, what: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ClientError(service, 'protocol', `${service}: ${what} is not JSON: ${excerpt(text)}`);
  }
}

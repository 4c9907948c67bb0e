// The load generator's SMTP client: one connection, one transaction at a time, PIPELINING when
// the server offers it (MAIL, every RCPT and DATA in one write; RFC 2920), dot-stuffing, strict
// multi-line reply parsing, RSET after a refused transaction, optional STARTTLS.
//
// Why not nodemailer (the project's SMTP client elsewhere): measured on the 2-core dev machine
// against postfix's smtp-sink, 20 pooled connections, 1 KB messages, nodemailer reached about
// 1,000-1,300 msg/s where postfix's smtp-source reached about 5,400 msg/s; the load generator's
// benchmark target is 0.8x smtp-source. nodemailer builds a MIME tree and runs a stream pipeline per
// message and waits for each reply; this client sends prebuilt text and two writes per message.
import net from 'node:net';
import tls from 'node:tls';

/** How a connection-level failure is counted. */
export type ErrorKind = 'connect' | 'timeout' | 'closed' | 'protocol';
export const ERROR_KINDS: readonly ErrorKind[] = ['connect', 'timeout', 'closed', 'protocol'];

/** The connection failed (no reply to count): it is unusable afterwards. */
export class SmtpClientError extends Error {
  override name = 'SmtpClientError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** replies read before the failure (a 421 followed by the close) */
    readonly partial: readonly Reply[] = [],
  ) {
    super(message);
  }
}

/** The server refused to start a session (greeting or EHLO/HELO not 2xx): a reply, not an error. */
export class SmtpSessionRefused extends Error {
  override name = 'SmtpSessionRefused';
  constructor(
    readonly reply: Reply,
    readonly phase: 'greeting' | 'ehlo' | 'starttls',
  ) {
    super(`${phase}: ${reply.code} ${reply.text}`);
  }
}

export interface Reply {
  code: number;
  /** the text of every line, without the code, joined by "\n" */
  text: string;
}

export interface Capabilities {
  esmtp: boolean;
  pipelining: boolean;
  starttls: boolean;
  /** SIZE limit (0: announced without a limit) */
  size?: number;
}

export interface SmtpConnectOptions {
  host: string;
  port: number;
  /** the EHLO name */
  name?: string;
  /** STARTTLS after EHLO; a server that does not offer it fails the connection ('protocol') */
  starttls?: boolean;
  /** connect, and each reply; also the idle limit while a reply is awaited */
  timeoutMs?: number;
  /** a shorter wait for the greeting alone (the target probe): a port that is not SMTP, an HTTP
   *  port say, accepts the connection and never speaks first; fails as 'protocol' */
  greetingTimeoutMs?: number;
  /** defaults: no certificate check (local sinks and the dev cluster use self-signed certificates) */
  tlsOptions?: tls.ConnectionOptions;
}

export type TransactionPhase = 'mail' | 'rcpt' | 'data' | 'message';

export interface TransactionResult {
  /** 2xx after the message: delivered to the recipients whose RCPT got 2xx */
  accepted: boolean;
  /** the reply that decided: the one after the message, or the refusal that ended the transaction */
  code: number;
  text: string;
  phase: TransactionPhase;
  /** one code per RCPT, in order (empty when MAIL was refused without pipelining) */
  rcptCodes: number[];
  /** the server closed the connection with this reply (421): open a new one */
  closed: boolean;
}

/** A message ready for the wire. */
export interface Outgoing {
  from: string;
  recipients: readonly string[];
  /** the content as sent after DATA: dot-stuffed, ending with ".\r\n" (see encodeMessage) */
  wire: readonly (string | Buffer)[];
  /** bytes of `wire`, for MAIL FROM's SIZE= */
  size: number;
}

/** Where stream() takes messages from. */
export interface StreamSource<T extends Outgoing> {
  /** the next message if one is due right now; never waits */
  poll(): T | undefined;
  /** the next message, waiting until it is due; undefined: no more */
  next(): Promise<T | undefined>;
}

export type StreamEnd<T> = { ok: true } | { ok: false; error: SmtpClientError; unsent: T[] };

const MAX_LINE = 64 * 1024;
const REPLY_LINE = /^(\d{3})(?:([ -])(.*))?$/s;

/** Normalizes line ends to CRLF, dot-stuffs (RFC 5321 4.5.2) and appends the end-of-data line. */
export function encodeMessage(message: string): Buffer {
  if (message === '') return Buffer.from('.\r\n');
  let text = message.replace(/\r\n|\r|\n/g, '\r\n').replace(/(^|\n)\./g, '$1..');
  if (!text.endsWith('\r\n')) text += '\r\n';
  return Buffer.from(text + '.\r\n', 'utf8');
}

/** EHLO reply lines after the first -> capabilities. */
export function parseCapabilities(reply: Reply | undefined): Capabilities {
  const caps: Capabilities = { esmtp: reply !== undefined, pipelining: false, starttls: false };
  for (const line of reply?.text.split('\n').slice(1) ?? []) {
    const [keyword = '', arg] = line.trim().toUpperCase().split(/\s+/);
    if (keyword === 'PIPELINING') caps.pipelining = true;
    else if (keyword === 'STARTTLS') caps.starttls = true;
    else if (keyword === 'SIZE') caps.size = arg !== undefined && /^\d+$/.test(arg) ? Number(arg) : 0;
  }
  return caps;
}

const isPositive = (code: number) => code >= 200 && code < 300;

/**
 * Reads replies off a byte stream in order. A reply is complete at its last line ("250 ok" after
 * any "250-..." lines); anything that is not a reply line is a protocol error.
 */
export class ReplyReader {
  #buffer = '';
  #lines: string[] = [];
  #code = 0;
  #ready: Reply[] = [];
  #want = 0;
  #waiter: { resolve: (r: Reply[]) => void; reject: (e: SmtpClientError) => void } | undefined;
  #failure: SmtpClientError | undefined;

  feed(chunk: string): void {
    if (this.#failure) return;
    this.#buffer += chunk;
    let nl: number;
    while ((nl = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, nl > 0 && this.#buffer.charCodeAt(nl - 1) === 13 ? nl - 1 : nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      if (!this.#line(line)) return;
    }
    if (this.#buffer.length > MAX_LINE) this.fail(new SmtpClientError('protocol', `a reply line longer than ${MAX_LINE} bytes`));
  }

  #line(line: string): boolean {
    const m = REPLY_LINE.exec(line);
    const code = m ? Number(m[1]) : 0;
    if (!m || code < 100 || (this.#lines.length > 0 && code !== this.#code)) {
      this.fail(new SmtpClientError('protocol', `not an SMTP reply line: ${JSON.stringify(line.slice(0, 80))}`));
      return false;
    }
    this.#code = code;
    this.#lines.push(m[3] ?? '');
    if (m[2] !== '-') {
      this.#ready.push({ code, text: this.#lines.join('\n') });
      this.#lines = [];
      this.#settle();
    }
    return true;
  }

  #settle(): void {
    if (this.#waiter && this.#ready.length >= this.#want) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve(this.#ready.splice(0, this.#want));
    }
  }

  /** The next n replies. Rejects on failure, with the replies read so far in `partial`. */
  take(n: number): Promise<Reply[]> {
    if (this.#waiter) return Promise.reject(new Error('ReplyReader: a take() is already pending'));
    if (this.#ready.length >= n) return Promise.resolve(this.#ready.splice(0, n));
    if (this.#failure) return Promise.reject(this.#withPartial(this.#failure));
    this.#want = n;
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  async one(): Promise<Reply> {
    const [r] = await this.take(1);
    if (!r) throw new SmtpClientError('protocol', 'no reply');
    return r;
  }

  get waiting(): boolean {
    return this.#waiter !== undefined;
  }

  /** Every pending and later take() fails with this error. */
  fail(error: SmtpClientError): void {
    if (this.#failure) return;
    this.#failure = error;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(this.#withPartial(error));
  }

  #withPartial(error: SmtpClientError): SmtpClientError {
    const partial = this.#ready.splice(0);
    return partial.length === 0 ? error : new SmtpClientError(error.kind, error.message, partial);
  }
}

function describeSocketError(e: NodeJS.ErrnoException, where: string): string {
  return `${where}: ${e.code ?? e.message}${e.code && e.message && !e.message.includes(e.code) ? ` (${e.message})` : ''}`;
}

export class SmtpConnection {
  #socket: net.Socket;
  #reader = new ReplyReader();
  #closed = false;
  #broken = false;
  readonly #timeoutMs: number;
  readonly #where: string;
  capabilities: Capabilities = { esmtp: false, pipelining: false, starttls: false };
  /** true after STARTTLS */
  secure = false;

  private constructor(socket: net.Socket, timeoutMs: number, where: string) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    this.#where = where;
    this.#attach(socket);
  }

  /** Connects, reads the greeting, says EHLO (HELO if refused), STARTTLS when asked. */
  static async open(o: SmtpConnectOptions): Promise<SmtpConnection> {
    const timeoutMs = o.timeoutMs ?? 30_000;
    const where = `${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`;
    const socket = await connectSocket(o.host, o.port, timeoutMs, where);
    const conn = new SmtpConnection(socket, timeoutMs, where);
    try {
      const greeting = await conn.#greeting(o.greetingTimeoutMs);
      if (greeting.code !== 220) throw new SmtpSessionRefused(greeting, 'greeting');
      const name = o.name ?? 'load.mailkind.test';
      await conn.#hello(name);
      if (o.starttls) {
        if (!conn.capabilities.starttls) throw new SmtpClientError('protocol', `${where} does not offer STARTTLS`);
        const r = await conn.#command('STARTTLS');
        if (r.code !== 220) throw new SmtpSessionRefused(r, 'starttls');
        await conn.#upgrade(o.host, o.tlsOptions);
        await conn.#hello(name);
      }
      return conn;
    } catch (e) {
      conn.destroy();
      throw e;
    }
  }

  async #greeting(limitMs: number | undefined): Promise<Reply> {
    if (limitMs === undefined || limitMs >= this.#timeoutMs) return this.#reader.one();
    let timer: NodeJS.Timeout | undefined;
    const quiet = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SmtpClientError('protocol', `no SMTP greeting from ${this.#where} within ${limitMs / 1000} s: not an SMTP port? (an HTTP port accepts the connection and says nothing)`)),
        limitMs,
      );
    });
    try {
      return await Promise.race([this.#reader.one(), quiet]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Usable for another transaction: open, not broken by a timeout, a 421 or a protocol error. */
  get usable(): boolean {
    return !this.#closed && !this.#broken;
  }

  #attach(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.setTimeout(this.#timeoutMs);
    socket.on('data', (chunk: string) => this.#reader.feed(chunk));
    socket.on('timeout', () => {
      // an idle pooled connection may sit quietly; only a reply we wait for times out
      if (!this.#reader.waiting) return;
      this.#broken = true;
      this.#reader.fail(new SmtpClientError('timeout', `no reply from ${this.#where} within ${this.#timeoutMs} ms`));
      socket.destroy();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      this.#broken = true;
      this.#reader.fail(new SmtpClientError('closed', describeSocketError(e, this.#where)));
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#reader.fail(new SmtpClientError('closed', `${this.#where} closed the connection`));
    });
  }

  async #hello(name: string): Promise<void> {
    const ehlo = await this.#command(`EHLO ${name}`);
    if (isPositive(ehlo.code)) {
      this.capabilities = parseCapabilities(ehlo);
      return;
    }
    if (ehlo.code === 421) throw new SmtpSessionRefused(ehlo, 'ehlo');
    // an SMTP-only server (RFC 5321 4.1.4: fall back to HELO)
    const helo = await this.#command(`HELO ${name}`);
    if (!isPositive(helo.code)) throw new SmtpSessionRefused(helo, 'ehlo');
    this.capabilities = parseCapabilities(undefined);
  }

  async #upgrade(host: string, options: tls.ConnectionOptions | undefined): Promise<void> {
    const plain = this.#socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('timeout');
    plain.setTimeout(0);
    const secure = tls.connect({
      socket: plain,
      rejectUnauthorized: false,
      ...(net.isIP(host) === 0 ? { servername: host } : {}),
      ...options,
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new SmtpClientError('timeout', `TLS handshake with ${this.#where} took over ${this.#timeoutMs} ms`)), this.#timeoutMs);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        resolve();
      });
      secure.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new SmtpClientError('protocol', describeSocketError(e, `TLS handshake with ${this.#where}`)));
      });
    });
    this.#socket = secure;
    this.#reader = new ReplyReader();
    this.#attach(secure);
    this.secure = true;
  }

  #write(parts: readonly (string | Buffer)[]): void {
    if (parts.length === 1) {
      this.#socket.write(parts[0] as string | Buffer);
      return;
    }
    // one writev, one segment: the content and the next envelope travel together
    this.#socket.cork();
    for (const p of parts) this.#socket.write(p);
    this.#socket.uncork();
  }

  async #command(line: string): Promise<Reply> {
    this.#write([`${line}\r\n`]);
    return this.#reader.one();
  }

  #mailCommand(m: Outgoing): string {
    return `MAIL FROM:<${m.from}>${this.capabilities.size === undefined ? '' : ` SIZE=${m.size}`}`;
  }

  #envelope(m: Outgoing): string {
    let text = `${this.#mailCommand(m)}\r\n`;
    for (const r of m.recipients) text += `RCPT TO:<${r}>\r\n`;
    return text + 'DATA\r\n';
  }

  /** One transaction. Throws SmtpClientError when the connection fails without a reply to count. */
  async send(from: string, recipients: readonly string[], message: string | Buffer): Promise<TransactionResult> {
    if (recipients.length === 0) throw new Error('a transaction needs at least one recipient');
    const data = typeof message === 'string' ? encodeMessage(message) : message;
    const out: Outgoing = { from, recipients, wire: [data], size: data.length };
    let result: TransactionResult | SmtpClientError | undefined;
    let given = false;
    const end = await this.stream(
      {
        poll: () => undefined,
        next: () => {
          const first = !given;
          given = true;
          return Promise.resolve(first ? out : undefined);
        },
      },
      (_, r) => (result = r),
    );
    if (result instanceof SmtpClientError) throw result;
    if (result === undefined) throw end.ok ? new Error('the transaction was not run') : end.error;
    return result;
  }

  /**
   * Sends messages from `source` back to back until it runs dry, reporting each one's result (or
   * the error that lost it) through `done`. With PIPELINING a message's content goes out in the
   * same write as the next message's MAIL/RCPT/DATA when one is due (RFC 2920 3.1 allows content
   * first in a group): one write and one round trip per message. Returns how the connection ended;
   * `unsent` messages never had their content sent and may go out on a new connection.
   */
  async stream<T extends Outgoing>(source: StreamSource<T>, done: (m: T, r: TransactionResult | SmtpClientError) => void): Promise<StreamEnd<T>> {
    return this.capabilities.pipelining ? this.#streamPipelined(source, done) : this.#streamStepwise(source, done);
  }

  /** The connection can no longer be used; `cur` (waiting for a reply) gets the error or the 421. */
  #fail<T extends Outgoing>(e: unknown, cur: T, done: (m: T, r: TransactionResult | SmtpClientError) => void, unsent: T[]): StreamEnd<T> {
    this.#broken = true;
    const error = e instanceof SmtpClientError ? e : new SmtpClientError('protocol', e instanceof Error ? e.message : String(e));
    const closing = error.partial.find((r) => r.code === 421);
    done(cur, closing ? { accepted: false, code: 421, text: closing.text, phase: 'mail', rcptCodes: [], closed: true } : error);
    return { ok: false, error, unsent };
  }

  #ended<T>(why: string, unsent: T[]): StreamEnd<T> {
    this.#broken = true;
    return { ok: false, error: new SmtpClientError('closed', `${this.#where}: ${why}`), unsent };
  }

  async #streamPipelined<T extends Outgoing>(source: StreamSource<T>, done: (m: T, r: TransactionResult | SmtpClientError) => void): Promise<StreamEnd<T>> {
    let cur = await source.next();
    if (cur === undefined) return { ok: true };
    if (!this.usable) return this.#ended('the connection closed while idle', [cur]);
    this.#write([this.#envelope(cur)]);
    for (;;) {
      let replies: Reply[];
      try {
        replies = await this.#reader.take(cur.recipients.length + 2);
      } catch (e) {
        return this.#fail(e, cur, done, []);
      }
      const mail = replies[0] as Reply;
      const rcpts = replies.slice(1, -1);
      const dataReply = replies.at(-1) as Reply;
      const rcptCodes = rcpts.map((r) => r.code);
      const refusal = this.#refusal(mail, rcpts, rcptCodes);
      let next: T | undefined;
      if (dataReply.code === 354 && !refusal) {
        next = source.poll();
        this.#write(next === undefined ? cur.wire : [...cur.wire, this.#envelope(next)]);
        let final: Reply;
        try {
          final = await this.#reader.one();
        } catch (e) {
          return this.#fail(e, cur, done, next === undefined ? [] : [next]);
        }
        const result = this.#closing({ accepted: isPositive(final.code), code: final.code, text: final.text, phase: 'message', rcptCodes, closed: false });
        done(cur, result);
        if (result.closed) return this.#ended('closed the connection (421)', next === undefined ? [] : [next]);
      } else {
        // refused before the content: end a DATA that was accepted anyway with an empty message
        // (RFC 2920 3.1), then RSET so the next transaction starts clean
        const result = this.#closing(refusal ?? { accepted: false, code: dataReply.code, text: dataReply.text, phase: 'data', rcptCodes, closed: false });
        try {
          if (dataReply.code === 354) await this.#command('.');
        } catch (e) {
          return this.#fail(e, cur, done, []);
        }
        done(cur, result);
        if (result.closed) return this.#ended('closed the connection (421)', []);
        next = source.poll();
        this.#write([next === undefined ? 'RSET\r\n' : `RSET\r\n${this.#envelope(next)}`]);
        let rset: Reply;
        try {
          rset = await this.#reader.one();
        } catch (e) {
          this.#broken = true;
          return { ok: false, error: e instanceof SmtpClientError ? e : new SmtpClientError('protocol', String(e)), unsent: next === undefined ? [] : [next] };
        }
        if (!isPositive(rset.code)) {
          // the envelope after it may have been read in a dirty state: drop the connection
          return this.#ended(`RSET got ${rset.code}`, next === undefined ? [] : [next]);
        }
      }
      if (next === undefined) {
        next = await source.next();
        if (next === undefined) return { ok: true };
        if (!this.usable) return this.#ended('the connection closed while idle', [next]);
        this.#write([this.#envelope(next)]);
      }
      cur = next;
    }
  }

  async #streamStepwise<T extends Outgoing>(source: StreamSource<T>, done: (m: T, r: TransactionResult | SmtpClientError) => void): Promise<StreamEnd<T>> {
    for (;;) {
      const cur = await source.next();
      if (cur === undefined) return { ok: true };
      if (!this.usable) return this.#ended('the connection closed while idle', [cur]);
      let result: TransactionResult;
      try {
        result = await this.#stepwise(cur);
      } catch (e) {
        return this.#fail(e, cur, done, []);
      }
      done(cur, result);
      if (result.closed) return this.#ended('closed the connection (421)', []);
      if (!this.usable) return this.#ended('RSET was refused', []);
    }
  }

  /** A server without PIPELINING: one command, one reply. */
  async #stepwise(m: Outgoing): Promise<TransactionResult> {
    const mail = await this.#command(this.#mailCommand(m));
    if (!isPositive(mail.code)) return this.#refused({ accepted: false, code: mail.code, text: mail.text, phase: 'mail', rcptCodes: [], closed: false });
    const rcpts: Reply[] = [];
    for (const r of m.recipients) {
      const reply = await this.#command(`RCPT TO:<${r}>`);
      rcpts.push(reply);
      if (reply.code === 421) break;
    }
    const rcptCodes = rcpts.map((r) => r.code);
    const refusal = this.#refusal(mail, rcpts, rcptCodes);
    if (refusal) return this.#refused(refusal);
    const dataReply = await this.#command('DATA');
    if (dataReply.code !== 354) return this.#refused({ accepted: false, code: dataReply.code, text: dataReply.text, phase: 'data', rcptCodes, closed: false });
    this.#write(m.wire);
    const final = await this.#reader.one();
    return this.#closing({ accepted: isPositive(final.code), code: final.code, text: final.text, phase: 'message', rcptCodes, closed: false });
  }

  /** The refusal that ends a transaction before the content: MAIL refused, or every RCPT refused. */
  #refusal(mail: Reply, rcpts: Reply[], rcptCodes: number[]): TransactionResult | undefined {
    if (!isPositive(mail.code)) return { accepted: false, code: mail.code, text: mail.text, phase: 'mail', rcptCodes, closed: false };
    const closing = rcpts.find((r) => r.code === 421);
    if (!closing && rcpts.some((r) => isPositive(r.code))) return undefined;
    const first = closing ?? rcpts[0];
    return { accepted: false, code: first?.code ?? 0, text: first?.text ?? '', phase: 'rcpt', rcptCodes, closed: false };
  }

  #closing(result: TransactionResult): TransactionResult {
    if (result.code !== 421) return result;
    this.#broken = true;
    return { ...result, closed: true };
  }

  /** After a refusal mid-transaction (stepwise): RSET, unless the server is closing. */
  async #refused(result: TransactionResult): Promise<TransactionResult> {
    const closed = this.#closing(result);
    if (closed.closed) return closed;
    const rset = await this.#command('RSET');
    if (!isPositive(rset.code)) this.#broken = true;
    return closed;
  }

  /** QUIT, wait briefly for the reply, close. Never throws. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#broken) return this.destroy();
    try {
      this.#socket.setTimeout(Math.min(this.#timeoutMs, 2_000));
      await this.#command('QUIT');
    } catch {
      // closing anyway
    }
    this.#socket.end();
    this.destroy();
  }

  destroy(): void {
    this.#broken = true;
    this.#socket.destroy();
  }
}

function connectSocket(host: string, port: number, timeoutMs: number, where: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs);
    const onTimeout = () => {
      socket.destroy();
      reject(new SmtpClientError('timeout', `connecting to ${where} took over ${timeoutMs} ms`));
    };
    const onError = (e: NodeJS.ErrnoException) => {
      socket.destroy();
      reject(new SmtpClientError('connect', describeSocketError(e, `cannot connect to ${where}`)));
    };
    socket.once('timeout', onTimeout);
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('timeout', onTimeout);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

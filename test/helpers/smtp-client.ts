// A deliberately low-level SMTP client for tests that must misbehave: pipelining, garbage, huge lines,
// leaving mid-DATA. Reads replies (multi-line aware) in order; writes exactly what it is told.
import net from 'node:net';
import tls from 'node:tls';

export interface Reply {
  code: number;
  lines: string[];
  text: string;
}

export class RawSmtp {
  #socket: net.Socket | tls.TLSSocket;
  #buffer = '';
  #replies: Reply[] = [];
  #waiting: ((r: Reply | null) => void)[] = [];
  #pending: string[] = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.#listen(socket);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawSmtp> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => resolve(new RawSmtp(socket)));
      socket.once('error', reject);
    });
  }

  #listen(socket: net.Socket | tls.TLSSocket): void {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#feed(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.#waiting.splice(0)) w(null);
    });
  }

  #feed(chunk: string): void {
    this.#buffer += chunk;
    let nl: number;
    while ((nl = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, nl).replace(/\r$/, '');
      this.#buffer = this.#buffer.slice(nl + 1);
      this.#pending.push(line);
      if (/^\d{3} /.test(line) || /^\d{3}$/.test(line)) {
        const lines = this.#pending.splice(0);
        const reply = { code: Number(line.slice(0, 3)), lines, text: lines.map((l) => l.slice(4)).join('\n') };
        const w = this.#waiting.shift();
        if (w) w(reply);
        else this.#replies.push(reply);
      }
    }
  }

  /** The next reply, or null when the server closed the connection first. */
  reply(): Promise<Reply | null> {
    const r = this.#replies.shift();
    if (r) return Promise.resolve(r);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  write(data: string | Buffer): void {
    this.#socket.write(data);
  }

  async command(line: string): Promise<Reply | null> {
    this.write(line + '\r\n');
    return this.reply();
  }

  /** STARTTLS and upgrade; returns the server certificate. */
  async starttls(): Promise<tls.PeerCertificate> {
    const r = await this.command('STARTTLS');
    if (r?.code !== 220) throw new Error(`STARTTLS refused: ${r?.lines.join(' ')}`);
    const plain = this.#socket;
    plain.removeAllListeners('data');
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.#socket = secure;
    this.#listen(secure);
    return secure.getPeerCertificate();
  }

  /** Resolves when the server has closed the connection. */
  waitClosed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.#socket.once('close', () => resolve()));
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** A whole transaction; returns the reply to the end of DATA (or the first refusal). */
  async send(from: string, to: string[], message: string): Promise<Reply | null> {
    const mail = await this.command(`MAIL FROM:<${from}>`);
    if (mail?.code !== 250) return mail;
    let accepted = 0;
    let last: Reply | null = null;
    for (const rcpt of to) {
      last = await this.command(`RCPT TO:<${rcpt}>`);
      if (last?.code === 250) accepted++;
    }
    if (!accepted) {
      await this.command('RSET');
      return last;
    }
    const data = await this.command('DATA');
    if (data?.code !== 354) return data;
    const body = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    return this.command(body + (body.endsWith('\r\n') ? '' : '\r\n') + '.');
  }
}

export function message(headers: Record<string, string>, body = 'hello\r\n'): string {
  return Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n') + '\r\n\r\n' + body;
}

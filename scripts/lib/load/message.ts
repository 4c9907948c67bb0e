// The messages a load run sends: a few headers that differ per message (Message-ID, Date, the
// run tag) in front of a body built once per run, padded to the requested size.
import { randomBytes } from 'node:crypto';

export const RUN_HEADER = 'X-Mailkind-Run';
export const MESSAGE_ID_DOMAIN = 'load.mailkind.test';

/** Run ids go into a header and into Message-IDs: keep them to a safe alphabet. */
export const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function defaultRunId(now: Date = new Date(), random: (n: number) => Buffer = randomBytes): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `load-${stamp}-${random(2).toString('hex')}`;
}

export interface MessageInput {
  run: string;
  seq: number;
  from: string;
  recipients: readonly string[];
  date: Date;
}

// starts with a letter: no line of the body needs dot-stuffing
const LINE = 'mailkind load generator filler text, padded to the requested message size. ok'.slice(0, 76);

/** The body: CRLF-terminated lines of at most 76 characters, `bytes` long (give or take one). */
export function makeBody(bytes: number): string {
  let out = '';
  for (;;) {
    const len = Math.min(LINE.length, bytes - out.length - 2);
    if (len < 0 || (len === 0 && out.length > 0)) break;
    out += LINE.slice(0, len) + '\r\n';
  }
  return out === '' ? '\r\n' : out;
}

export class MessageFactory {
  readonly body: string;
  /** the body as SMTP sends it, with the end-of-data line: built once, shared by every message */
  readonly bodyWire: Buffer;
  readonly #unique = randomBytes(4).toString('hex');
  readonly #headerBytes: number;

  /** @param size target size of a whole message in bytes (headers included, roughly) */
  constructor(
    readonly run: string,
    size: number,
  ) {
    // a typical header block is ~330 bytes; the body makes up the rest
    this.#headerBytes = this.headers({ run, seq: 0, from: 'load@mailkind.test', recipients: ['rcpt1@example.test'], date: new Date(0) }).length;
    this.body = makeBody(size - this.#headerBytes);
    // no body line starts with "." (makeBody): the wire form is the body plus the end-of-data line
    this.bodyWire = Buffer.from(`${this.body}.\r\n`, 'latin1');
  }

  messageId(seq: number): string {
    return `<${this.run}.${seq}.${this.#unique}@${MESSAGE_ID_DOMAIN}>`;
  }

  /** Header lines never start with "." (run ids and addresses start with a letter or digit). */
  headers(m: MessageInput): string {
    const to = m.recipients.length === 1 ? `<${m.recipients[0] ?? ''}>` : 'undisclosed-recipients:;';
    return (
      `From: mailkind load <${m.from}>\r\n` +
      `To: ${to}\r\n` +
      `Subject: mailkind load ${m.run} #${m.seq}\r\n` +
      `Date: ${m.date.toUTCString()}\r\n` +
      `Message-ID: ${this.messageId(m.seq)}\r\n` +
      `${RUN_HEADER}: ${m.run}\r\n` +
      'MIME-Version: 1.0\r\n' +
      'Content-Type: text/plain; charset=us-ascii\r\n' +
      '\r\n'
    );
  }

  /** The whole message, CRLF line ends, no line starting with ".". */
  build(m: MessageInput): string {
    return this.headers(m) + this.body;
  }
}

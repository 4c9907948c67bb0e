// Reads one message's DATA stream: counts bytes, keeps the header block (bounded) and, if asked,
// the raw message. Works on Buffers only; nothing is decoded until the stream has ended.
import type { Readable } from 'node:stream';

/** Header blocks longer than this are cut: enough for real mail, bounded for hostile input. */
export const MAX_HEADER_BYTES = 16 * 1024;

export interface Collected {
  size: number;
  headerBlock: string;
  raw: Buffer | null;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');

/** Locates the end of the header block in what has been read so far; -1 while not yet seen. */
export function headerEnd(buf: Buffer): number {
  const crlf = buf.indexOf(CRLFCRLF);
  const lf = buf.indexOf(LFLF);
  if (crlf < 0) return lf;
  if (lf < 0) return crlf;
  return Math.min(crlf, lf);
}

/**
 * Collects the stream (keeping the raw message when keepRawUpTo > 0 and it is not larger) and calls `done` once: with the message when it ended, or with an error when
 * the client went away mid-DATA (smtp-server destroys the stream then), so it is never recorded.
 * A callback rather than a promise: this runs for every message and the reply goes out sooner.
 */
export function collect(stream: Readable, keepRawUpTo: number, done: (err: Error | null, msg: Collected | null) => void): void {
  let size = 0;
  let head: Buffer | null = null;
  let headDone = false;
  // raw bytes only while within the size limit: an oversized message is refused, never held
  let chunks: Buffer[] | null = keepRawUpTo > 0 ? [] : null;
  stream.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (chunks && size > keepRawUpTo) chunks = null;
    chunks?.push(chunk);
    if (headDone) return;
    head = head ? Buffer.concat([head, chunk]) : chunk;
    const end = headerEnd(head);
    if (end >= 0 || head.length >= MAX_HEADER_BYTES) {
      head = head.subarray(0, end >= 0 ? end : MAX_HEADER_BYTES);
      headDone = true;
    }
  });
  stream.once('error', (err: Error) => done(err, null));
  stream.once('end', () => done(null, { size, headerBlock: head ? head.toString('utf8') : '', raw: chunks ? Buffer.concat(chunks, size) : null }));
}

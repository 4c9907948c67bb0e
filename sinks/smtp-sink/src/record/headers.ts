// Header-block parsing for the few fields the sink records. Pure functions, no MIME library:
// the sink reads only the header block, and only once per message.

export type HeaderList = [name: string, value: string][];

/** Splits an RFC 5322 header block into [name, value] pairs, unfolding continuation lines. */
export function parseHeaderBlock(block: string): HeaderList {
  const headers: HeaderList = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === '') continue;
    const last = headers[headers.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      last[1] += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue; // not a header line (mbox "From " line, garbage): skipped, never fatal
    headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return headers;
}

/** First value of a header, case-insensitive. */
export function headerValue(headers: HeaderList, name: string): string | null {
  const wanted = name.toLowerCase();
  for (const [k, v] of headers) if (k.toLowerCase() === wanted) return v;
  return null;
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

/** Decodes RFC 2047 encoded words ("=?UTF-8?B?...?=") for display; unknown charsets are left as they are. */
export function decodeEncodedWords(value: string): string {
  // whitespace between two adjacent encoded words is not part of the text (RFC 2047 section 6.2)
  const joined = value.replace(/(\?=)\s+(?==\?)/g, '$1');
  return joined.replace(ENCODED_WORD, (whole, charset: string, encoding: string, text: string) => {
    try {
      const bytes =
        encoding.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(
              text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
              'latin1',
            );
      return new TextDecoder(charset.split('*')[0], { fatal: false }).decode(bytes);
    } catch {
      return whole;
    }
  });
}

/** "<abc@x>" -> "abc@x"; the id as the sink reports it. */
export function normalizeMessageId(value: string | null): string | null {
  if (!value) return null;
  const m = /<([^>]*)>/.exec(value);
  return (m?.[1] ?? value).trim() || null;
}

export interface KeyHeaders {
  messageId: string | null;
  subject: string | null;
  from: string | null;
  listId: string | null;
  run: string | null;
}

export const RUN_HEADER = 'X-Mailkind-Run';

const KEY_FIELDS: Record<string, keyof KeyHeaders> = {
  'message-id': 'messageId',
  subject: 'subject',
  from: 'from',
  'list-id': 'listId',
  [RUN_HEADER.toLowerCase()]: 'run',
};

const display = (v: string | null): string | null => (v !== null && v.includes('=?') ? decodeEncodedWords(v) : v);

/**
 * The fields the sink records, in one pass over the block (this runs for every message, so it
 * does not build the full header list; the API parses that lazily).
 */
export function keyHeaders(block: string): KeyHeaders {
  const found: KeyHeaders = { messageId: null, subject: null, from: null, listId: null, run: null };
  let current: keyof KeyHeaders | null = null;
  let start = 0;
  while (start < block.length) {
    let end = block.indexOf('\n', start);
    if (end < 0) end = block.length;
    const line = block.charCodeAt(end - 1) === 13 ? block.slice(start, end - 1) : block.slice(start, end);
    start = end + 1;
    const first = line.charCodeAt(0);
    if (first === 32 || first === 9) {
      if (current) found[current] += ' ' + line.trim();
      continue;
    }
    current = null;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const field = KEY_FIELDS[line.slice(0, colon).trim().toLowerCase()];
    if (field && found[field] === null) {
      found[field] = line.slice(colon + 1).trim();
      current = field;
    }
  }
  found.messageId = normalizeMessageId(found.messageId);
  found.subject = display(found.subject);
  found.from = display(found.from);
  return found;
}

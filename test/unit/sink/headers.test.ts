import { describe, expect, it } from 'vitest';
import { decodeEncodedWords, headerValue, keyHeaders, normalizeMessageId, parseHeaderBlock } from '../../../sinks/smtp-sink/src/record/headers.js';

const block = [
  'From: =?UTF-8?B?SsO8cmdlbg==?= <j@x.test>',
  'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= =?UTF-8?Q?_aus_Berlin?=',
  '  and more',
  'Message-ID: <abc@x.test>',
  'List-Id: Team <team.lists.mailkind.test>',
  'X-Mailkind-Run: run-1',
  'x-mailkind-run: ignored-second',
  'not a header line',
].join('\r\n');

describe('keyHeaders', () => {
  it('finds the recorded fields in one pass, unfolding and decoding', () => {
    expect(keyHeaders(block)).toEqual({
      messageId: 'abc@x.test',
      subject: 'Grüße aus Berlin and more',
      from: 'Jürgen <j@x.test>',
      listId: 'Team <team.lists.mailkind.test>',
      run: 'run-1',
    });
  });
  it('agrees with the full parser on every recorded field', () => {
    const full = parseHeaderBlock(block);
    expect(full).toHaveLength(6); // 'not a header line' is skipped, the second run header kept
    // the same five fields read through the full parser (first occurrence, unfolded, decoded for display)
    const viaFullParser = (text: string) => {
      const headers = parseHeaderBlock(text);
      const shown = (v: string | null) => (v === null ? null : decodeEncodedWords(v));
      return {
        messageId: normalizeMessageId(headerValue(headers, 'Message-ID')),
        subject: shown(headerValue(headers, 'Subject')),
        from: shown(headerValue(headers, 'From')),
        listId: headerValue(headers, 'List-Id'),
        run: headerValue(headers, 'X-Mailkind-Run'),
      };
    };
    const blocks = [
      block,
      // bare LF, folded From and List-Id, a repeated Subject (the first wins), tabs as folding
      'subject: first\nSubject: second\nFROM: "A"\n\t<a@x.test>\nlist-id: L\n <l.x.test>\nmessage-id:  <m@x.test> \nX-MAILKIND-RUN: r-2\n',
      // a field after a folded unrelated header must not absorb its continuation
      'Received: from a\r\n by b\r\nSubject: s\r\nX-Other: o\r\n more\r\n',
    ];
    for (const text of blocks) expect(keyHeaders(text)).toEqual(viaFullParser(text));
  });
  it('copes with bare LF, empty input and garbage', () => {
    expect(keyHeaders('Subject: hi\nX-Mailkind-Run: r\n')).toMatchObject({ subject: 'hi', run: 'r' });
    expect(keyHeaders('')).toEqual({ messageId: null, subject: null, from: null, listId: null, run: null });
    expect(keyHeaders(':::\r\n\t\r\n\u0000')).toMatchObject({ subject: null });
  });
});

describe('decodeEncodedWords', () => {
  it('leaves unknown charsets and broken words as they are', () => {
    expect(decodeEncodedWords('=?x-unknown?B?aGk=?=')).toBe('=?x-unknown?B?aGk=?=');
    expect(decodeEncodedWords('plain')).toBe('plain');
    expect(decodeEncodedWords('=?ISO-8859-1?Q?caf=E9?=')).toBe('café');
  });
});

describe('normalizeMessageId', () => {
  it('strips angle brackets', () => {
    expect(normalizeMessageId('<a@b>')).toBe('a@b');
    expect(normalizeMessageId(' a@b ')).toBe('a@b');
    expect(normalizeMessageId('<>')).toBeNull();
    expect(normalizeMessageId(null)).toBeNull();
  });
});

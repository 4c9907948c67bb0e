// The SMTP client's pure parts: reply parsing, dot-stuffing, capabilities; how transaction results
// and inject answers are counted; the messages the load generator builds.
import { describe, expect, it } from 'vitest';
import { ClientError } from '../../../scripts/lib/clients/http.js';
import { httpOutcome, recipientMessageIds } from '../../../scripts/lib/load/http-transport.js';
import { defaultRunId, makeBody, MessageFactory, RUN_HEADER } from '../../../scripts/lib/load/message.js';
import { encodeMessage, parseCapabilities, ReplyReader, SmtpClientError, type Reply } from '../../../scripts/lib/load/smtp-client.js';
import { smtpOutcome } from '../../../scripts/lib/load/smtp-transport.js';

async function rejection(p: Promise<unknown>): Promise<SmtpClientError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SmtpClientError) return e;
    throw e;
  }
  throw new Error('did not reject');
}

describe('ReplyReader', () => {
  it('multi-line replies, replies split across chunks, several replies in one chunk', async () => {
    const r = new ReplyReader();
    const got = r.take(3);
    r.feed('250-smtp.test hello\r\n250-PIPELINING\r\n25');
    r.feed('0 SIZE 1000\r\n250 2.1.0 Ok\r');
    r.feed('\n354 go on\n');
    expect(await got).toEqual<Reply[]>([
      { code: 250, text: 'smtp.test hello\nPIPELINING\nSIZE 1000' },
      { code: 250, text: '2.1.0 Ok' },
      { code: 354, text: 'go on' },
    ]);
  });

  it('replies that arrive before they are asked for are kept in order; a bare code is a reply', async () => {
    const r = new ReplyReader();
    r.feed('220 hi\r\n250\r\n');
    expect(await r.one()).toEqual({ code: 220, text: 'hi' });
    expect(await r.one()).toEqual({ code: 250, text: '' });
  });

  it('garbage, a code change inside a reply, or an endless line is a protocol error', async () => {
    for (const bad of ['HTTP/1.1 400 Bad Request\r\n', '250-a\r\n251 b\r\n', '25 short\r\n', '099 low\r\n']) {
      const r = new ReplyReader();
      const p = r.take(2);
      r.feed(bad);
      expect((await rejection(p)).kind).toBe('protocol');
    }
    const r = new ReplyReader();
    const p = r.one();
    r.feed('2'.repeat(70_000));
    expect((await rejection(p)).message).toMatch(/longer than/);
  });

  it('a failure keeps the replies read before it (a 421 then the close)', async () => {
    const r = new ReplyReader();
    const p = r.take(3);
    r.feed('421 4.3.2 shutting down\r\n');
    r.fail(new SmtpClientError('closed', 'gone'));
    const e = await rejection(p);
    expect(e.kind).toBe('closed');
    expect(e.partial).toEqual([{ code: 421, text: '4.3.2 shutting down' }]);
    expect((await rejection(r.one())).kind).toBe('closed');
  });
});

describe('encodeMessage', () => {
  it('CRLF everywhere, dot-stuffed line starts, the end-of-data line', () => {
    expect(encodeMessage('a\n.b\r\n..c\rd').toString()).toBe('a\r\n..b\r\n...c\r\nd\r\n.\r\n');
    expect(encodeMessage('.\r\n').toString()).toBe('..\r\n.\r\n');
    expect(encodeMessage('x.y\r\n').toString()).toBe('x.y\r\n.\r\n');
    expect(encodeMessage('').toString()).toBe('.\r\n');
  });
});

describe('parseCapabilities', () => {
  it('reads PIPELINING, STARTTLS and SIZE from the EHLO reply; HELO means none', () => {
    expect(parseCapabilities({ code: 250, text: 'mx hello\nPIPELINING\nstarttls\nSIZE 1048576\n8BITMIME' })).toEqual({ esmtp: true, pipelining: true, starttls: true, size: 1048576 });
    expect(parseCapabilities({ code: 250, text: 'mx\nSIZE' })).toEqual({ esmtp: true, pipelining: false, starttls: false, size: 0 });
    expect(parseCapabilities(undefined)).toEqual({ esmtp: false, pipelining: false, starttls: false });
  });
});

describe('smtpOutcome', () => {
  it('accepted after the content: RCPT refusals still count per recipient', () => {
    expect(smtpOutcome({ accepted: true, code: 250, text: 'ok', phase: 'message', rcptCodes: [250, 550, 250, 451], closed: false }, 4)).toEqual({
      kind: 'reply', accepted: true, code: 250, recipients: { accepted: 2, refused4xx: 1, refused5xx: 1 },
    });
  });
  it('refused after the content: the accepted recipients share the refusal', () => {
    expect(smtpOutcome({ accepted: false, code: 451, text: 'later', phase: 'message', rcptCodes: [250, 250], closed: false }, 2)).toMatchObject({
      accepted: false, code: 451, recipients: { accepted: 0, refused4xx: 2, refused5xx: 0 }, text: 'later',
    });
  });
  it('every RCPT refused; MAIL refused; a 421 before every RCPT was answered', () => {
    expect(smtpOutcome({ accepted: false, code: 550, text: '', phase: 'rcpt', rcptCodes: [550, 450], closed: false }, 2)).toMatchObject({ recipients: { refused4xx: 1, refused5xx: 1 } });
    expect(smtpOutcome({ accepted: false, code: 553, text: '', phase: 'mail', rcptCodes: [], closed: false }, 3)).toMatchObject({ recipients: { refused5xx: 3 } });
    expect(smtpOutcome({ accepted: false, code: 421, text: '', phase: 'rcpt', rcptCodes: [250, 421], closed: true }, 4)).toMatchObject({ recipients: { accepted: 0, refused4xx: 3 } });
  });
});

describe('httpOutcome', () => {
  it('a 200 counts kumod\'s success and fail counts; all failed is a refusal', () => {
    expect(httpOutcome({ successCount: 3, failCount: 1, errors: ['bad rcpt'] }, 4)).toEqual({ kind: 'reply', accepted: true, code: 200, recipients: { accepted: 3, refused4xx: 0, refused5xx: 1 }, text: 'bad rcpt' });
    expect(httpOutcome({ successCount: 0, failCount: 2, errors: [] }, 2)).toMatchObject({ accepted: false, refusal: '5xx', recipients: { refused5xx: 2 } });
  });
  it('statuses by class, 401 kept as 401; timeouts and connection failures are errors', () => {
    expect(httpOutcome(new ClientError('KumoMTA', 'http', 'busy', { status: 503 }), 2)).toMatchObject({ kind: 'reply', code: 503, recipients: { refused5xx: 2 } });
    expect(httpOutcome(new ClientError('KumoMTA', 'http', 'big', { status: 413 }), 2)).toMatchObject({ kind: 'reply', code: 413, recipients: { refused4xx: 2 } });
    expect(httpOutcome(new ClientError('KumoMTA', 'auth', 'no', { status: 401 }), 1)).toMatchObject({ kind: 'reply', code: 401 });
    expect(httpOutcome(new ClientError('KumoMTA', 'timeout', 't'), 1)).toEqual({ kind: 'error', error: 'timeout', message: 't' });
    expect(httpOutcome(new ClientError('KumoMTA', 'connection', 'c'), 1)).toMatchObject({ kind: 'error', error: 'connect' });
    expect(httpOutcome(new ClientError('KumoMTA', 'protocol', 'p', { status: 200 }), 1)).toMatchObject({ kind: 'error', error: 'protocol' });
  });
  it('one Message-ID per recipient, derived from the job\'s', () => {
    expect(recipientMessageIds({ messageId: '<r1.7.ab@load.mailkind.test>', recipients: ['a@x.test', 'b@x.test'] })).toEqual(['r1.7.ab.0@load.mailkind.test', 'r1.7.ab.1@load.mailkind.test']);
  });
});

describe('messages', () => {
  it('makeBody: the size asked for, short CRLF lines, none starting with "."', () => {
    for (const n of [3, 10, 77, 78, 79, 700, 10_000]) {
      const body = makeBody(n);
      expect(Math.abs(body.length - n)).toBeLessThanOrEqual(2);
      expect(body.endsWith('\r\n')).toBe(true);
      for (const line of body.split('\r\n')) {
        expect(line.length).toBeLessThanOrEqual(76);
        expect(line.startsWith('.')).toBe(false);
      }
    }
  });

  it('headers carry the run, a unique Message-ID and the date; the whole message is about --size', () => {
    const f = new MessageFactory('run-1', 1024);
    const date = new Date('2026-01-02T03:04:05Z');
    const one = f.build({ run: 'run-1', seq: 1, from: 'load@mailkind.test', recipients: ['a@x.test'], date });
    const two = f.build({ run: 'run-1', seq: 2, from: 'load@mailkind.test', recipients: ['a@x.test', 'b@x.test'], date });
    expect(one).toMatch(new RegExp(`\\r\\n${RUN_HEADER}: run-1\\r\\n`));
    expect(one).toContain('\r\nTo: <a@x.test>\r\n');
    expect(two).toContain('\r\nTo: undisclosed-recipients:;\r\n');
    expect(one).toContain('\r\nDate: Fri, 02 Jan 2026 03:04:05 GMT\r\n');
    const id = (m: string) => /\r\nMessage-ID: (<[^>]+>)\r\n/.exec(m)?.[1];
    expect(id(one)).toMatch(/^<run-1\.1\.[0-9a-f]{8}@load\.mailkind\.test>$/);
    expect(id(one)).not.toBe(id(two));
    expect(Math.abs(one.length - 1024)).toBeLessThan(40);
    expect(one.split('\r\n').some((l) => l.startsWith('.'))).toBe(false);
    expect(f.bodyWire.toString()).toBe(`${f.body}.\r\n`);
  });

  it('default run ids: load-<utc time>-<4 hex>', () => {
    expect(defaultRunId(new Date('2026-03-04T05:06:07Z'), () => Buffer.from([0xab, 0x01]))).toBe('load-20260304-050607-ab01');
  });
});

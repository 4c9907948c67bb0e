// The injection request builder and response parser against KumoMTA's documented schema
// (kumo-inject-v1.schema.ts cites the upstream paths). No network here; the stand-in server test
// in test/component/clients exercises the wire.
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { ClientError } from '../../../scripts/lib/clients/http.js';
import {
  batchRecipients,
  buildInjectBody,
  buildInjectRequest,
  makeMessageId,
  parseInjectResponse,
  totalOf,
  type InjectMessage,
} from '../../../scripts/lib/clients/kumo-inject.js';
import { DOCUMENTED_ERRORS, DOCUMENTED_SUCCESS, injectV1RequestSchema, injectV1ResponseSchema } from './kumo-inject-v1.schema.js';

// strictRequired off: the anyOf below names fields declared one level up
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
// addresses as the schema's "format: email" means them (kumod parses them itself)
ajv.addFormat('email', /^[^\s@<>]+@[^\s@<>]+$/);
const validRequest = ajv.compile(injectV1RequestSchema);
const validResponse = ajv.compile(injectV1ResponseSchema);

const msg: InjectMessage = {
  from: 'sender@e2e.mailkind.test',
  recipients: ['a@e2e.mailkind.test', 'b@e2e.mailkind.test'],
  subject: 'hello',
  text: 'body\n',
  run: 'run-1',
};

function thrown(fn: () => unknown): ClientError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ClientError) return e;
    throw e;
  }
  throw new Error('expected a ClientError');
}

describe('buildInjectBody', () => {
  it('is a valid InjectV1Request (unknown fields would be refused by kumod)', () => {
    const { body } = buildInjectBody({ ...msg, headers: { 'X-Extra': 'yes' } });
    expect(validRequest(body), JSON.stringify(validRequest.errors)).toBe(true);
    // and the fixture is strict enough to notice a wrong one
    expect(validRequest({ ...body, recipient: [] })).toBe(false);
    expect(validRequest({ ...body, recipients: [{ address: 'x@y.test' }] })).toBe(false);
    expect(validRequest({ ...body, content: { subject: 'no body part' } })).toBe(false);
  });

  it('gives every recipient its own Message-ID through a per-recipient substitution', () => {
    const { body, messageIds } = buildInjectBody(msg);
    expect(messageIds).toHaveLength(2);
    expect(new Set(messageIds).size).toBe(2);
    for (const id of messageIds) expect(id).toMatch(/^run-1\.\d\.[0-9a-f]{12}@mailkind\.test$/);
    const template = body.content.headers['Message-ID'] as string;
    expect(template).toMatch(/^<\{\{ (\w+) \}\}>$/);
    const name = /\{\{ (\w+) \}\}/.exec(template)?.[1] as string;
    expect(body.recipients.map((r) => r.substitutions?.[name])).toEqual(messageIds);
    expect(body.recipients.map((r) => r.email)).toEqual(msg.recipients);
  });

  it('keeps caller text out of template source: "{{" in a subject stays text', () => {
    const tricky = { ...msg, subject: 'price {{ 1 + 1 }} {% if %}', text: '{{ email }}', headers: { 'X-Note': '{{ name }}' } };
    const { body } = buildInjectBody(tricky);
    const source = JSON.stringify(body.content);
    expect(source).not.toContain('price');
    expect(source).not.toContain('{{ email }}');
    expect(Object.values(body.substitutions)).toEqual(expect.arrayContaining([tricky.subject, tricky.text, '{{ name }}']));
    // every template in the content is one plain variable reference
    const templates = [body.content.subject, body.content.text_body, ...Object.values(body.content.headers)];
    for (const t of templates) expect(t.replace(/<|>/g, '')).toMatch(/^\{\{ mailkind_\w+ \}\}$/);
  });

  it('sets From, Subject, X-Mailkind-Run and the envelope sender', () => {
    const { body } = buildInjectBody(msg);
    expect(body.envelope_sender).toBe(msg.from);
    expect(body.content.from).toEqual({ email: msg.from });
    const runVar = /\{\{ (\w+) \}\}/.exec(body.content.headers['X-Mailkind-Run'] as string)?.[1] as string;
    expect(body.substitutions[runVar]).toBe('run-1');
    expect(buildInjectBody({ ...msg, run: undefined }).body.content.headers).not.toHaveProperty('X-Mailkind-Run');
  });

  it('uses message ids the caller gives, one per recipient', () => {
    const { messageIds } = buildInjectBody({ ...msg, messageIds: ['one@x.test', 'two@x.test'] });
    expect(messageIds).toEqual(['one@x.test', 'two@x.test']);
    expect(thrown(() => buildInjectBody({ ...msg, messageIds: ['one@x.test'] })).message).toMatch(/1 message ids for 2 recipients/);
    expect(thrown(() => buildInjectBody({ ...msg, messageIds: ['<one@x.test>', 'two@x.test'] })).message).toMatch(/no angle brackets/);
  });

  it('refuses bad input before sending, naming the problem', () => {
    const cases: [Partial<InjectMessage>, RegExp][] = [
      [{ from: 'not-an-address' }, /from "not-an-address" is not an email address/],
      [{ recipients: [] }, /no recipients/],
      [{ recipients: ['ok@x.test', 'bad address@x.test'] }, /recipient "bad address@x.test"/],
      [{ subject: 'two\r\nBcc: victim@x.test' }, /subject must not contain a line break/],
      [{ run: '' }, /run is empty/],
      [{ headers: { 'Bad Name': 'x' } }, /header name "Bad Name"/],
      [{ headers: { 'X-A': 'a\nb' } }, /header X-A must not contain a line break/],
      [{ headers: { 'message-id': '<x@y>' } }, /header message-id is set by the client/],
      [{ headers: { 'X-Mailkind-Run': 'other' } }, /is set by the client/],
    ];
    for (const [patch, expected] of cases) {
      const e = thrown(() => buildInjectBody({ ...msg, ...patch }));
      expect(e.kind).toBe('input');
      expect(e.message).toMatch(expected);
    }
  });
});

describe('buildInjectRequest', () => {
  const endpoint = { baseUrl: 'http://127.0.0.1:8000/', username: 'mailkind', password: 's3cret-Pass' };

  it('POSTs JSON to /api/inject/v1 with basic auth', () => {
    const { url, init } = buildInjectRequest(endpoint, msg);
    expect(url).toBe('http://127.0.0.1:8000/api/inject/v1');
    expect(init.method).toBe('POST');
    // kumod requires this content type (api_inject_v1_post.md: "The Content-Type header must be set to application/json")
    expect(init.headers['content-type']).toBe('application/json');
    expect(init.headers.authorization).toBe(`Basic ${Buffer.from('mailkind:s3cret-Pass').toString('base64')}`);
    expect(validRequest(JSON.parse(init.body as string))).toBe(true);
    expect(init.headers).not.toHaveProperty('connection');
    expect(buildInjectRequest(endpoint, msg, { newConnection: true }).init.headers.connection).toBe('close');
  });

  it('sends no Authorization without credentials (a trusted loopback client)', () => {
    expect(buildInjectRequest({ baseUrl: 'http://127.0.0.1:8000' }, msg).init.headers).not.toHaveProperty('authorization');
  });

  it('refuses half credentials, credentials in the URL, and non-http URLs, without echoing a password', () => {
    expect(thrown(() => buildInjectRequest({ baseUrl: 'http://h:1', username: 'u' }, msg)).message).toMatch(/both username and password/);
    const inUrl = thrown(() => buildInjectRequest({ baseUrl: 'http://u:hunter2@h:1' }, msg));
    expect(inUrl.message).toMatch(/must not contain credentials/);
    expect(inUrl.message).not.toContain('hunter2');
    expect(thrown(() => buildInjectRequest({ baseUrl: 'ftp://h' }, msg)).message).toMatch(/not http/);
    expect(thrown(() => buildInjectRequest({ baseUrl: 'nope' }, msg)).message).toMatch(/not a URL/);
    expect(thrown(() => buildInjectRequest({ baseUrl: 'http://h', username: 'a:b', password: 'p' }, msg)).message).toMatch(/cannot contain ":"/);
  });
});

describe('parseInjectResponse', () => {
  it('reads the documented 200 body', () => {
    expect(validResponse(DOCUMENTED_SUCCESS)).toBe(true);
    expect(parseInjectResponse(200, JSON.stringify(DOCUMENTED_SUCCESS))).toEqual({ successCount: 1, failCount: 0, failedRecipients: [], errors: [] });
  });

  it('reports per-recipient failures that still come with 200', () => {
    const body = { success_count: 1, fail_count: 1, failed_recipients: ['bad@x.test'], errors: ['bad@x.test: 550 rejected by policy'] };
    expect(validResponse(body)).toBe(true);
    expect(parseInjectResponse(200, JSON.stringify(body))).toEqual({ successCount: 1, failCount: 1, failedRecipients: ['bad@x.test'], errors: ['bad@x.test: 550 rejected by policy'] });
  });

  it('a 200 that is not an InjectV1Response is a protocol error', () => {
    for (const body of ['not json', '[]', '{"success_count":1}', '{"success_count":-1,"fail_count":0,"failed_recipients":[],"errors":[]}', '{"success_count":1,"fail_count":0,"failed_recipients":[1],"errors":[]}']) {
      const e = thrown(() => parseInjectResponse(200, body));
      expect(e.kind, body).toBe('protocol');
    }
  });

  it('401 is an auth error that says which credentials to check', () => {
    for (const { status, body } of [DOCUMENTED_ERRORS.wrongPassword, DOCUMENTED_ERRORS.noCredentials]) {
      const e = thrown(() => parseInjectResponse(status, body));
      expect(e.kind).toBe('auth');
      expect(e.status).toBe(401);
      expect(e.retryable).toBe(false);
      expect(e.message).toMatch(/kumomta-http/);
      expect(e.message).toContain(body.slice(0, 30));
    }
  });

  it('other statuses: http errors with the reason, 503 and 500 retryable', () => {
    const expectations: [keyof typeof DOCUMENTED_ERRORS, RegExp, boolean][] = [
      ['templateError', /syntax error \(422: Error: failed parsing/, false],
      ['shuttingDown', /cannot take mail right now \(503: Error: shutting down\)/, true],
      ['spoolStarting', /503: Error: waiting for spool startup/, true],
      ['tooLarge', /fewer recipients per request \(413/, false],
      ['internal', /kumod failed \(500/, true],
    ];
    for (const [name, pattern, retryable] of expectations) {
      const { status, body } = DOCUMENTED_ERRORS[name];
      const e = thrown(() => parseInjectResponse(status, body));
      expect(e.kind, name).toBe('http');
      expect(e.message, name).toMatch(pattern);
      expect(e.retryable, name).toBe(retryable);
    }
  });
});

describe('helpers', () => {
  it('batchRecipients splits in order and refuses a silly size', () => {
    expect(batchRecipients([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(batchRecipients([], 3)).toEqual([]);
    expect(thrown(() => batchRecipients([1], 0)).kind).toBe('input');
  });

  it('makeMessageId is unique and safe in a header', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => makeMessageId('a run/with spaces', 1)));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^a-run-with-spaces\.1\.[0-9a-f]{12}@mailkind\.test$/);
  });

  it('totalOf adds outcomes', () => {
    expect(totalOf([
      { successCount: 2, failCount: 0, failedRecipients: [], errors: [] },
      { successCount: 1, failCount: 1, failedRecipients: ['x@y'], errors: ['x@y: no'] },
    ])).toEqual({ successCount: 3, failCount: 1, failedRecipients: ['x@y'], errors: ['x@y: no'] });
  });
});

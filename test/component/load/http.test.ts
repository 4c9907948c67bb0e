// HTTP mode against a STAND-IN for kumod: a node:http server on loopback answering POST
// /api/inject/v1 the way KumoMTA's docs say (test/unit/clients/kumo-inject-v1.schema.ts has the
// documented error bodies). It is not KumoMTA; it records what the load generator sends and lets
// the tests pick the answers.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../../scripts/lib/cli/errors.js';
import { parseLoadArgs, type LoadConfig } from '../../../scripts/lib/load/options.js';
import { prepareHttp } from '../../../scripts/lib/load/preflight.js';
import { runLoad } from '../../../scripts/lib/load/runner.js';
import { ensureSecrets } from '../../../scripts/lib/secrets/file.js';
import { DOCUMENTED_ERRORS } from '../../unit/clients/kumo-inject-v1.schema.js';

interface Request {
  authorization: string | undefined;
  body: {
    envelope_sender: string;
    recipients: { email: string; substitutions?: Record<string, string> }[];
    content: { headers: Record<string, string>; subject: string };
    substitutions: Record<string, string>;
  };
}

let server: Server;
let port: number;
let stateDir: string;
let credentials: { username: string; password: string };
const seen: Request[] = [];
/** recipients whose local part starts with this fail inside a 200 (kumod's failed_recipients) */
const FAIL_PREFIX = 'permfail';
/** recipients whose local part starts with this make the whole request a 503 */
const BUSY_PREFIX = 'busy';

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'mailkind-load-http-'));
  const { secrets } = await ensureSecrets(join(stateDir, 'secrets.json'));
  credentials = secrets['kumomta-http'];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Request['body'];
      seen.push({ authorization: req.headers.authorization, body });
      const expected = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
      if (req.method !== 'POST' || req.url !== '/api/inject/v1') return res.writeHead(404).end();
      if (req.headers.authorization !== expected) return res.writeHead(DOCUMENTED_ERRORS.wrongPassword.status).end(DOCUMENTED_ERRORS.wrongPassword.body);
      const emails = body.recipients.map((r) => r.email);
      if (emails.some((e) => e.startsWith(BUSY_PREFIX))) return res.writeHead(DOCUMENTED_ERRORS.shuttingDown.status).end(DOCUMENTED_ERRORS.shuttingDown.body);
      const failed = emails.filter((e) => e.startsWith(FAIL_PREFIX));
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ success_count: emails.length - failed.length, fail_count: failed.length, failed_recipients: failed, errors: failed.map((f) => `${f}: refused by policy`) }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(stateDir, { recursive: true, force: true });
});
beforeEach(() => {
  seen.length = 0;
});

const config = (args: string[], env: NodeJS.ProcessEnv = {}): LoadConfig =>
  parseLoadArgs(['--mode', 'http', '--seed', '3', '--timeout', '5s', ...args], { MAILKIND_STATE_DIR: stateDir, [`MAILKIND_PORT_KUMO_HTTP`]: String(port), ...env });

describe('HTTP mode against a kumod stand-in', () => {
  it('basic auth from the secrets file; recipients batched per request, each with its own Message-ID; the run header', async () => {
    const c = config(['--count', '40', '--max', '--concurrency', '4', '--recipients-per-message', '5', '--run', 'http-batch', '--mix', 'example.test=1']);
    expect(c.defaultTarget).toBe(true);
    const r = await runLoad({ plan: c, transport: await prepareHttp(c, {}) });
    expect(seen).toHaveLength(40);
    const expected = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    expect(seen.every((s) => s.authorization === expected)).toBe(true);
    expect(seen.every((s) => s.body.recipients.length === 5)).toBe(true);
    const ids = seen.flatMap((s) => s.body.recipients.map((x) => x.substitutions?.mailkind_message_id));
    expect(new Set(ids).size).toBe(200);
    expect(ids.every((id) => id?.startsWith('http-batch.'))).toBe(true);
    expect(seen[0]?.body.content.headers['X-Mailkind-Run']).toBe('{{ mailkind_run }}');
    expect(seen.every((s) => s.body.substitutions.mailkind_run === 'http-batch' && s.body.envelope_sender === 'load@mailkind.test')).toBe(true);
    expect(r.snapshot.messages).toMatchObject({ sent: 40, accepted: 40 });
    expect(r.snapshot.recipients).toEqual({ sent: 200, accepted: 200, refused: { '4xx': 0, '5xx': 0 } });
  });

  it('failed recipients inside a 200 and 503 answers are counted', async () => {
    const c = config(['--count', '60', '--max', '--concurrency', '3', '--recipients-per-message', '2', '--mix', `example.test=6,${FAIL_PREFIX}@example.test=3,${BUSY_PREFIX}@example.test=1`]);
    const r = await runLoad({ plan: c, transport: await prepareHttp(c, {}) });
    const busyRequests = seen.filter((s) => s.body.recipients.some((x) => x.email.startsWith(BUSY_PREFIX))).length;
    const failedInOk = seen
      .filter((s) => !s.body.recipients.some((x) => x.email.startsWith(BUSY_PREFIX)))
      .reduce((n, s) => n + s.body.recipients.filter((x) => x.email.startsWith(FAIL_PREFIX)).length, 0);
    expect(busyRequests).toBeGreaterThan(0);
    expect(failedInOk).toBeGreaterThan(0);
    const m = r.snapshot.messages;
    expect(r.snapshot.codes['503']).toBe(busyRequests);
    expect(r.snapshot.recipients.refused['5xx']).toBe(failedInOk + busyRequests * 2);
    expect(r.snapshot.recipients.accepted).toBe(120 - failedInOk - busyRequests * 2);
    expect(m.accepted + m.refused['5xx']).toBe(60);
    expect(r.snapshot.samples.refusals['503']).toMatch(/shutting down/);
  });

  it('a wrong password: the run stops at once with the cause and the fix', async () => {
    const c = config(['--count', '500', '--max', '--concurrency', '2'], { MAILKIND_KUMO_HTTP_USER: credentials.username, MAILKIND_KUMO_HTTP_PASSWORD: 'wrong' });
    const transport = await prepareHttp(c, { MAILKIND_KUMO_HTTP_USER: credentials.username, MAILKIND_KUMO_HTTP_PASSWORD: 'wrong' });
    const e = await runLoad({ plan: c, transport }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).message).toBe('KumoMTA refused the inject credentials from MAILKIND_KUMO_HTTP_USER/_PASSWORD (HTTP 401)');
    expect((e as UserError).fix).toMatch(/npm run status -- --show-secrets/);
    expect((e as UserError).code).toBe(1);
    expect(seen.length).toBeLessThanOrEqual(2);
  });

  it('no secrets file, or nothing listening: a UserError before anything is sent', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'mailkind-load-nosecrets-'));
    try {
      const c = parseLoadArgs(['--mode', 'http'], { MAILKIND_STATE_DIR: empty, MAILKIND_PORT_KUMO_HTTP: String(port) });
      await expect(prepareHttp(c, {})).rejects.toThrow(/no credentials for KumoMTA's inject API/);
      await expect(prepareHttp(c, {})).rejects.toMatchObject({ fix: expect.stringMatching(/npm run up/) as unknown });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    const down = config(['--target', 'http://127.0.0.1:1']);
    await expect(prepareHttp(down, {})).rejects.toMatchObject({ message: 'cannot connect to 127.0.0.1:1: ECONNREFUSED', fix: expect.stringMatching(/check --target/) as unknown });
    expect(seen).toHaveLength(0);
  });
});

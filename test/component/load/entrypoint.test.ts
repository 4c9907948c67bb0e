// `npm run load` as a process: exit codes, one line of cause and one of fix, no stack trace, and
// --json printing nothing but the summary.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { freePorts } from '../../../bench/lib/net.js';
import { SUMMARY_VERSION, type LoadSummary } from '../../../scripts/lib/load/report.js';
import { ensureSecrets } from '../../../scripts/lib/secrets/file.js';
import { api, startTestSink } from '../../helpers/sink.js';
import { tsEntry } from '../../helpers/entry-point.js';

const MAIN = 'scripts/load.ts';
// a clean environment: no CI plain-mode surprises, no developer overrides of ports or state
const load = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  execa(...tsEntry(MAIN, args), { reject: false, extendEnv: false, env: { PATH: process.env.PATH, HOME: process.env.HOME, CI: 'true', ...env }, timeout: 20_000 });

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);

let sink: RunningSink;
let unused: number;
let stateDir: string;
let standIn: Server;
beforeAll(async () => {
  sink = await startTestSink();
  [unused = 1] = await freePorts(1);
  stateDir = mkdtempSync(join(tmpdir(), 'mailkind-load-cli-'));
  await ensureSecrets(join(stateDir, 'secrets.json'));
  // a stand-in for kumod that refuses every credential (DOCUMENTED_ERRORS.wrongPassword)
  standIn = createServer((_req, res) => res.writeHead(401).end('HttpBasicAuth Authentication Failed for mailkind'));
  await new Promise<void>((r) => standIn.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  await sink.close();
  standIn.closeAllConnections();
  await new Promise((r) => standIn.close(r));
  rmSync(stateDir, { recursive: true, force: true });
});

describe('npm run load', () => {
  it.concurrent('an unknown flag: exit 2, the cause and where to look', async () => {
    const r = await load(['--bogus']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.split('\n')).toEqual(["error: unknown option '--bogus'", '  fix: see `npm run load -- --help`']);
    expect(r.stdout).toBe('');
  });

  it.concurrent('an unreachable --target: exit 1, the cause and a fix, no stack trace', async () => {
    const r = await load(['--target', `127.0.0.1:${unused}`]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.split('\n')).toEqual([
      `error: cannot connect to 127.0.0.1:${unused}: ECONNREFUSED`,
      `  fix: check --target 127.0.0.1:${unused}: is an SMTP server listening there? (a local sink listens where \`npm run sink -- --smtp-port <port>\` says; 8025 and 8026 are HTTP ports)`,
    ]);
  });

  it.concurrent('HTTP mode with a wrong password: exit 1, pointing at --show-secrets', async () => {
    const port = (standIn.address() as AddressInfo).port;
    const r = await load(['--mode', 'http', '--count', '50'], { MAILKIND_STATE_DIR: stateDir, MAILKIND_PORT_KUMO_HTTP: String(port) });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^error: KumoMTA refused the inject credentials from .*secrets\.json \(HTTP 401\)\n {2}fix: compare them with `npm run status -- --show-secrets`/m);
    noStack(r.stderr);
  });

  it.concurrent('--json against a sink: stdout is the summary and nothing else', async () => {
    const r = await load(['--target', `127.0.0.1:${sink.smtpPort}`, '--count', '50', '--rate', '500', '--run', 'cli-json', '--json', '--seed', '5']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
    const s = JSON.parse(r.stdout) as LoadSummary;
    expect(Object.keys(s).sort()).toEqual(
      ['version', 'run', 'mode', 'unit', 'target', 'startedAt', 'finishedAt', 'elapsedMs', 'interrupted', 'settings', 'messages', 'recipients', 'codes', 'throughput', 'latencyMs', 'connections', 'mix', 'samples', 'hints'].sort(),
    );
    expect(s).toMatchObject({ version: SUMMARY_VERSION, run: 'cli-json', mode: 'smtp', unit: 'message', target: `127.0.0.1:${sink.smtpPort}`, interrupted: false });
    expect(s.settings).toMatchObject({ rate: 500, count: 50, seed: 5, concurrency: 10 });
    expect(s.messages.sent).toBe(50);
    expect(s.messages.accepted + s.messages.refused['4xx'] + s.messages.refused['5xx']).toBe(50);
    expect(Object.keys(s.messages.errors).sort()).toEqual(['closed', 'connect', 'protocol', 'timeout']);
    for (const k of ['min', 'p50', 'p95', 'p99', 'max'] as const) expect(typeof s.latencyMs[k]).toBe('number');
    expect(s.mix.reduce((n, e) => n + e.recipients, 0)).toBe(50);
    const { body } = await api<{ total: number }>(sink, '/api/messages?run=cli-json');
    expect(body.total).toBe(s.messages.accepted);
  });

  it.concurrent('plain output (CI=true): a start line on stderr, the summary on stdout', async () => {
    const r = await load(['--target', `127.0.0.1:${sink.smtpPort}`, '--count', '20', '--max', '--run', 'cli-plain', '--mix', 'example.test=1']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/^load: 20 message\(s\) as fast as possible over 10 connection\(s\) to 127\.0\.0\.1:\d+ \(smtp\), run cli-plain$/);
    expect(r.stdout).toMatch(/^load run cli-plain: smtp -> 127\.0\.0\.1:\d+\n/);
    expect(r.stdout).toMatch(/messages {4}sent 20 \(.*\/s\) {3}accepted 20 \(100\.0%\)/);
  });
});

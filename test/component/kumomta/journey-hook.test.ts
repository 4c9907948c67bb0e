// The journey log hook (manifests/base/policy/kumomta/journey.lua) as init.lua loads it, under real
// lua5.4 with the strict stand-ins of harness/ (journey-hook.lua drives it): registered once, its
// filter (every record type of mail, never its own records), its batching (one POST of a JSON array
// per batch) and what a sink that refuses or is down makes of a batch. The POSTed body then goes to
// a real sink, which must take it.
//
// What this does not prove: that kumod calls the hook as its docs say, the batch sizes it really
// forms, or that a down sink leaves kumod's delivery rate unchanged. Those need a cluster
// (docs/journey.md, "What is verified where").
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { skipWithout } from '../../helpers/prerequisites.js';
import { api, startTestSink } from '../../helpers/sink.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const INIT = join(ROOT, 'manifests/base/policy/kumomta/init.lua');
const DRIVER = join(ROOT, 'test/component/kumomta/journey-hook.lua');
const LUA = 'lua5.4';
const haveLua = spawnSync(LUA, ['-v'], { stdio: 'ignore' }).status === 0;

interface Output {
  ok: boolean;
  error?: string;
  hooks: { name: string; queue: string; constructor: string; configured: { name: string; headers: string[]; deferred_spool: boolean } }[];
  queue: { retry_interval: string; max_retry_interval: string; max_age: string; protocol: { custom_lua: { constructor: string; batch_size: number; min_batch_size: number; max_batch_latency: string } } };
  filter: { case: string; hook: string; enqueue: boolean | null; queue?: string; error?: string }[];
  connection_methods: string[];
  batches: { case: string; requests: number; url?: string; headers?: Record<string, string>; body?: string; disposition?: string; rejected?: { code: number; message: string }; error?: string }[];
  http_clients: { timeout?: string }[];
  phase?: string;
  cost?: { records: number; peer_us_per_record: number; with_hook_us_per_record: number; send_batch_us_per_record: number; peer_hook: string };
}

describe.skipIf(skipWithout(haveLua ? undefined : { what: 'the journey log hook tests', reason: `${LUA} not found`, fix: 'apt-get install lua5.4' }))('journey log hook (journey.lua under lua5.4)', () => {
  let out: Output;
  let sink: RunningSink;

  const drive = (extraEnv: Record<string, string> = {}, args: string[] = []) => {
    const r = spawnSync(LUA, [DRIVER, INIT, ...args], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', POD_NAMESPACE: 'mailkind', KUMO_HTTP_USER: 'inject', KUMO_HTTP_PASSWORD: 'secret', TSA_REPLICAS: '1', RELAY_NETWORKS: '10.244.0.0/16', ...extraEnv },
    });
    return JSON.parse(r.stdout) as Output;
  };

  beforeAll(async () => {
    out = drive();
    sink = await startTestSink();
  });
  afterAll(() => sink?.close());

  it('loads with init.lua and registers one hook, configured with the headers the sink joins on', () => {
    expect(out.ok, out.error).toBe(true);
    expect(out.hooks).toHaveLength(1);
    expect(out.hooks[0]).toMatchObject({ name: 'journey', queue: 'journey.log_hook', constructor: 'make.journey.log_hook' });
    expect(out.hooks[0]!.configured).toEqual({ name: 'journey', headers: ['Message-ID', 'X-Mailkind-Run', 'Subject', 'List-Id'], deferred_spool: true });
  });

  it('its queue is delivered by the Lua constructor in batches, and gives up on old records', () => {
    // journey.lua's handler answers before init.lua's catch-all, which would send the records to the sink's SMTP port
    expect(out.queue.protocol).toEqual({ custom_lua: { constructor: 'make.journey.log_hook', batch_size: 100, min_batch_size: 20, max_batch_latency: '1s' } });
    expect(out.queue).toMatchObject({ retry_interval: '5s', max_retry_interval: '20s', max_age: '2 minutes' });
    expect(out.connection_methods).toEqual(['close', 'send_batch']);
    expect(out.http_clients).toEqual([{ timeout: '5s' }]);
  });

  it('queues every record type of the stack mail for the sink', () => {
    const mail = out.filter.filter((f) => !f.case.includes('hook') && !f.case.includes('TSA'));
    expect(mail.map((f) => f.case)).toEqual(expect.arrayContaining(['Reception', 'Delivery', 'TransientFailure', 'Bounce', 'Expiration', 'Rejection', 'AdminBounce', 'Delayed', 'HTTP injection']));
    for (const f of mail) expect(f, f.case).toMatchObject({ enqueue: true, queue: 'journey.log_hook' });
  });

  it('never queues its own records (no loop) nor the TSA publish records', () => {
    const own = out.filter.filter((f) => f.case.startsWith("the hook's own") || f.case === 'a TSA publish record');
    expect(own).toHaveLength(3);
    for (const f of own) expect(f, f.case).toMatchObject({ enqueue: false });
    for (const f of own) expect(f.queue, f.case).toBeUndefined();
    // the TSA hook's records are answered by the shaping helper, not by journey.lua
    const tsa = out.filter.find((f) => f.case === 'a record for the TSA hook');
    expect(tsa).toMatchObject({ enqueue: false });
    expect(tsa?.queue).toBeUndefined();
  });

  it('posts one batch as one JSON array to the sink, which takes it', async () => {
    const accepted = out.batches.find((b) => b.case === 'accepted')!;
    expect(accepted).toMatchObject({ requests: 1, url: 'http://smtp-sink.mailkind.svc.cluster.local:8025/api/journey/records', disposition: '200 OK' });
    expect(accepted.headers).toEqual({ 'Content-Type': 'application/json' });
    const records = JSON.parse(accepted.body!) as { type: string }[];
    expect(records.map((r) => r.type)).toEqual(['Reception', 'Delivery', 'Reception']);
    const r = await api<{ accepted: number; invalid: number }>(sink, '/api/journey/records', { method: 'POST', headers: accepted.headers, body: accepted.body });
    expect(r).toEqual({ status: 200, body: { accepted: 3, invalid: 0, errors: [] } });
  });

  it('a sink that answers 5xx or is down makes the batch a transient failure; a 4xx fails it for good', () => {
    const by = Object.fromEntries(out.batches.map((b) => [b.case, b]));
    expect(by['sink restarting']?.rejected).toEqual({ code: 421, message: '503 Service Unavailable' });
    // a Lua error escaping send_batch is a transient failure of the batch (webhooks.md, batched hooks)
    expect(by['sink down']?.error).toMatch(/Connection refused/);
    expect(by['sink down']?.rejected).toBeUndefined();
    expect(by['sink refuses the batch']?.rejected?.code).toBe(500);
    expect(by['sink refuses the batch']?.rejected?.message).toMatch(/^400 Bad Request: .*no valid log record/);
  });

  it('MAILKIND_JOURNEY_HOOK=off leaves the hook out (to measure its cost); a value other than on or off fails at load', () => {
    const off = drive({ MAILKIND_JOURNEY_HOOK: 'off' });
    expect(off.ok, off.error).toBe(true);
    expect(off.hooks).toEqual([]);
    expect(drive({ MAILKIND_JOURNEY_HOOK: 'on' }).hooks).toHaveLength(1);
    const bad = drive({ MAILKIND_JOURNEY_HOOK: 'no' });
    expect(bad).toMatchObject({ ok: false, phase: 'load' });
    expect(bad.error).toContain('MAILKIND_JOURNEY_HOOK must be on or off');
  });

  it('--cost measures the Lua per record with the hook beside the TSA hook alone, in the same run', () => {
    const { cost } = drive({}, ['--cost', '300']);
    expect(cost?.records).toBe(300);
    expect(cost?.peer_hook).toMatch(/\.tsa\.kumomta$/);
    // the hook's filter and batches come on top of the peer's work (about 40 times as much here)
    expect(cost!.send_batch_us_per_record).toBeGreaterThan(0);
    expect(cost!.with_hook_us_per_record).toBeGreaterThan(cost!.peer_us_per_record);
  });
});

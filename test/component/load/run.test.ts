// A whole load run (runLoad, SMTP mode) against a real sink: what the load generator counts must be
// what the sink counts, message for message, and the run id must tag every message.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePorts } from '../../../bench/lib/net.js';
import { UserError } from '../../../scripts/lib/cli/errors.js';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { parseLoadArgs, type LoadConfig } from '../../../scripts/lib/load/options.js';
import { probeSmtp, smtpTransport } from '../../../scripts/lib/load/preflight.js';
import { runLoad, type Job, type RunResult, type Tick, type Transport } from '../../../scripts/lib/load/runner.js';
import { api, startTestSink, type ApiMessage } from '../../helpers/sink.js';

interface SinkStats {
  accepted: number;
  rejected: number;
  tempfailed: number;
  recipients: number;
  connections: number;
}

let sink: RunningSink;
beforeAll(async () => {
  sink = await startTestSink({ maxMessages: 5_000 });
});
afterAll(() => sink.close());
beforeEach(async () => {
  await api(sink, '/api/messages', { method: 'DELETE' });
});

const config = (args: string[]): LoadConfig => parseLoadArgs(['--target', `127.0.0.1:${sink.smtpPort}`, '--seed', '1', '--timeout', '5s', ...args], {});
const run = (c: LoadConfig, extra: { onTick?: (t: Tick) => void; signal?: AbortSignal } = {}) => runLoad({ plan: c, transport: smtpTransport(c), tickMs: 100, ...extra });
const stats = async () => (await api<SinkStats>(sink, '/api/stats')).body;
const errorsOf = (r: RunResult) => Object.values(r.snapshot.messages.errors).reduce((a, b) => a + b, 0);

describe('a load run against the sink', () => {
  it('N messages at a rate over C connections: the sink counts exactly what the load generator counts, all under the run id', async () => {
    const c = config(['--count', '300', '--rate', '600/s', '--concurrency', '4', '--run', 'comp-rate']);
    const ticks: Tick[] = [];
    const started = performance.now();
    const r = await run(c, { onTick: (t) => ticks.push(t) });
    const wall = performance.now() - started;
    const m = r.snapshot.messages;
    const s = await stats();
    expect(m.sent).toBe(300);
    expect(errorsOf(r)).toBe(0);
    // the default mix: accepted, tempfail (451) and permfail (550) recipients
    expect(m.accepted).toBe(s.accepted);
    expect(m.refused['4xx']).toBe(s.tempfailed);
    expect(m.refused['5xx']).toBe(s.rejected);
    expect(m.accepted + m.refused['4xx'] + m.refused['5xx']).toBe(300);
    expect(m.refused['4xx']).toBeGreaterThan(0);
    expect(m.refused['5xx']).toBeGreaterThan(0);
    expect(r.snapshot.codes).toEqual({ 451: m.refused['4xx'], 550: m.refused['5xx'] });
    expect(r.snapshot.connections).toBe(4);
    // paced: 300 at 600/s take about half a second (the first burst of 30 goes at once)
    expect(wall).toBeGreaterThanOrEqual(((300 - c.burst) / 600) * 1000 - 20);
    expect(ticks.length).toBeGreaterThan(0);
    // the run id tags exactly the accepted messages, each with its own Message-ID
    const wait = await api<{ count: number }>(sink, `/api/messages/wait?run=comp-rate&count=${m.accepted}&timeoutMs=5000`);
    expect(wait.status).toBe(200);
    const { body } = await api<{ total: number; messages: ApiMessage[] }>(sink, '/api/messages?run=comp-rate&limit=1000');
    expect(body.total).toBe(m.accepted);
    expect(new Set(body.messages.map((x) => x.messageId)).size).toBe(m.accepted);
    expect(body.messages.every((x) => x.run === 'comp-rate' && x.mailFrom === 'load@mailkind.test')).toBe(true);
    // and the mix reached the sink: the throttled domain among the recipients
    expect(body.messages.some((x) => x.rcptTo.some((rcpt) => rcpt.endsWith('@throttled.mailkind.test')))).toBe(true);
  });

  it('--max, 3 recipients per message: RCPT-time refusals counted per recipient, the sink agrees', async () => {
    const c = config(['--count', '400', '--max', '--concurrency', '8', '--recipients-per-message', '3', '--mix', 'example.test=8,rcpt-permfail@example.test=1,rcpt-tempfail@example.test=1', '--run', 'comp-rcpt']);
    const r = await run(c);
    const s = await stats();
    const { recipients, messages } = r.snapshot;
    expect(messages.sent).toBe(400);
    expect(recipients.sent).toBe(1200);
    expect(messages.accepted).toBe(s.accepted);
    expect(recipients.accepted).toBe(s.recipients);
    // each refused recipient is one refused RCPT; the mix decides how many of each
    expect(recipients.refused['5xx']).toBe(r.perEntry[1]);
    expect(recipients.refused['4xx']).toBe(r.perEntry[2]);
    expect(recipients.accepted + recipients.refused['4xx'] + recipients.refused['5xx']).toBe(1200);
  });

  it('a server dropping connections and answering 421: counted as such, the run reconnects and finishes', async () => {
    const c = config(['--count', '200', '--max', '--concurrency', '3', '--mix', 'example.test=8,disconnect@example.test=1,code-421@example.test=1', '--run', 'comp-drop']);
    const r = await run(c);
    const m = r.snapshot.messages;
    const s = await stats();
    expect(m.errors.closed).toBe(r.perEntry[1]);
    expect(m.refused['4xx']).toBe(r.perEntry[2]);
    expect(r.snapshot.codes).toEqual({ 421: r.perEntry[2] });
    expect(m.accepted).toBe(r.perEntry[0]);
    expect(m.accepted).toBe(s.accepted);
    // one connection per slot, plus a new one after every drop and every 421, except where the
    // slot had nothing left to send (at most once per slot)
    const failures = m.errors.closed + m.refused['4xx'];
    expect(failures).toBeGreaterThan(0);
    expect(r.snapshot.connections).toBeLessThanOrEqual(3 + failures);
    expect(r.snapshot.connections).toBeGreaterThanOrEqual(failures);
  });

  it('--duration: unpaced, no message is handed out once the clock reaches the deadline; paced, rate x duration messages; an abort stops early and lets the messages in flight finish', async () => {
    // an injected clock that advances 10 ms per finished message, so the deadline falls after
    // exactly 40 of them however fast or slow this machine is
    const timed = config(['--duration', '400ms', '--max', '--concurrency', '2', '--mix', 'example.test=1', '--run', 'comp-time']);
    let now = 0;
    const handedOutAt: number[] = [];
    const runaway = new AbortController();
    const seen = (job: Job | undefined) => {
      if (job) handedOutAt.push(now);
      if (handedOutAt.length >= 200) runaway.abort(); // a run that ignores the deadline fails below, not at the test timeout
      return job;
    };
    const inner = smtpTransport(timed);
    const transport: Transport = {
      slot: (hooks) => {
        const slot = inner.slot(hooks);
        return {
          run: (src) =>
            slot.run({
              poll: () => seen(src.poll()),
              next: async () => seen(await src.next()),
              done: (job, outcome) => {
                now += 10;
                src.done(job, outcome);
              },
              pause: (ms) => src.pause(ms),
            }),
        };
      },
    };
    const t0 = performance.now();
    const limited = await runLoad({ plan: timed, transport, clock: { now: () => now }, signal: runaway.signal });
    const sent = limited.snapshot.messages.sent;
    console.log(`--duration 400ms on a clock of 10 ms per message: ${sent} sent, ${Math.round(performance.now() - t0)} ms of real time`);
    expect(sent).toBe(handedOutAt.length);
    expect(Math.max(...handedOutAt)).toBeLessThan(400);
    // 40 finish before the deadline; at most two more per connection were already in flight (pipelined)
    expect(sent).toBeGreaterThanOrEqual(40);
    expect(sent).toBeLessThanOrEqual(44);
    expect(limited.interrupted).toBe(false);
    expect(limited.snapshot.messages.accepted).toBe(sent);

    // with a rate, --duration means rate x duration messages (a count, whatever the machine's speed)
    const paced = config(['--duration', '400ms', '--rate', '200', '--concurrency', '2', '--mix', 'example.test=1', '--run', 'comp-time-paced']);
    const t1 = performance.now();
    const r = await run(paced);
    console.log(`--duration 400ms --rate 200: ${r.snapshot.messages.sent} sent in ${Math.round(performance.now() - t1)} ms (connections included)`);
    // 400 ms at 200/s is exactly 80 sends: the duration counts from the first message, and a
    // message due before the end goes out even when its timer fires late
    expect(r.snapshot.messages.sent).toBe(80);
    expect(r.snapshot.messages.accepted).toBe(r.snapshot.messages.sent);

    const abort = new AbortController();
    const endless = config(['--count', '1000000', '--rate', '500', '--concurrency', '2', '--mix', 'slow-50@example.test=1', '--run', 'comp-abort']);
    const p = run(endless, { onTick: (t) => t.snapshot.messages.sent >= 20 && abort.abort(), signal: abort.signal });
    const aborted = await p;
    expect(aborted.interrupted).toBe(true);
    const m = aborted.snapshot.messages;
    expect(m.sent).toBeLessThan(1000);
    expect(m.accepted).toBe(m.sent);
    expect(aborted.snapshot.inFlight).toBe(0);
    expect((await stats()).accepted).toBe(limited.snapshot.messages.accepted + r.snapshot.messages.accepted + m.accepted);
  });
});

describe('preflight (before any message is sent)', () => {
  const refusal = async (c: LoadConfig) => {
    try {
      await probeSmtp(c, smtpTransport(c));
    } catch (e) {
      if (e instanceof UserError) return e;
      throw e;
    }
    throw new Error('the probe passed');
  };

  it('the default target (the cluster relay) not answering: the fix says how to start the stack or use a local sink', async () => {
    const [port = 1] = await freePorts(1);
    const e = await refusal(parseLoadArgs([], { MAILKIND_PORT_KUMO_RELAY: String(port) }));
    expect(e.message).toBe(`cannot connect to 127.0.0.1:${port}: ECONNREFUSED`);
    expect(e.fix).toMatch(/^start the stack with `npm run up`.*`npm run load -- --target 127\.0\.0\.1:2526`$/);
  });

  it('something that is not SMTP (an HTTP server), and --starttls to a server without it', async () => {
    const http = createServer((_q, res) => res.end('hi'));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const noTls = await startTestSink({ starttls: false });
    try {
      const port = (http.address() as AddressInfo).port;
      // an HTTP server says nothing first: the greeting times out
      const quiet = await refusal(parseLoadArgs(['--target', `127.0.0.1:${port}`, '--timeout', '300ms'], {}));
      expect(quiet.message).toMatch(/no reply from 127\.0\.0\.1:\d+ within 300 ms/);
      // with the default --timeout (30 s) the probe still gives up on a silent port after PROBE_GREETING_MS, calling it not SMTP
      const started = performance.now();
      const silent = await refusal(parseLoadArgs(['--target', `127.0.0.1:${port}`], {}));
      console.log(`load --target <an HTTP port>: refused after ${((performance.now() - started) / 1000).toFixed(1)} s`);
      expect(silent.message).toMatch(/does not speak SMTP as expected: no SMTP greeting from 127\.0\.0\.1:\d+ within 5 s: not an SMTP port\?/);
      expect(silent.fix).toMatch(/--mode http/);
      const tls = await refusal(parseLoadArgs(['--target', `127.0.0.1:${noTls.smtpPort}`, '--starttls'], {}));
      expect(tls.message).toMatch(/does not offer STARTTLS/);
      expect(tls.fix).toMatch(/drop --starttls/);
    } finally {
      http.closeAllConnections();
      http.close();
      await noTls.close();
    }
  });
});

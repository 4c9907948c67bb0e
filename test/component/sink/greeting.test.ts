// The sink greets at once, without smtp-server's 100 ms early-talker pause (see fast-greeting.ts).
// setTimeout is faked here and never advanced: a greeting that waited on a timer would never come,
// so an smtp-server upgrade that breaks the bypass fails this test instead of silently slowing the sink.
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { startTestSink } from '../../helpers/sink.js';
import { RawSmtp } from '../../helpers/smtp-client.js';

let sink: RunningSink;
beforeAll(async () => {
  sink = await startTestSink();
});
afterAll(() => sink.close());

it('greets without waiting on a timer', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout'] });
  try {
    const c = await RawSmtp.connect(sink.smtpPort);
    const greeting = await c.reply();
    expect(greeting?.code).toBe(220);
    expect(greeting?.text).toMatch(/ESMTP mailkind smtp-sink/);
    c.destroy();
  } finally {
    vi.useRealTimers();
  }
}, 5_000);

it('still enforces maxClients on the fast path', async () => {
  const small = await startTestSink({ maxClients: 1 });
  try {
    const first = await RawSmtp.connect(small.smtpPort);
    expect((await first.reply())?.code).toBe(220);
    const second = await RawSmtp.connect(small.smtpPort);
    expect((await second.reply())?.code).toBe(421);
    first.destroy();
  } finally {
    await small.close();
  }
});

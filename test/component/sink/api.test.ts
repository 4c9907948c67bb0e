// The HTTP API of docs/contract.md, against a real sink fed over real SMTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { api, startTestSink } from '../../helpers/sink.js';
import { RawSmtp, message } from '../../helpers/smtp-client.js';

let sink: RunningSink;
beforeAll(async () => {
  sink = await startTestSink({ keepBodies: true, bodyBudget: 1024 * 1024 });
});
afterAll(() => sink.close());

async function send(run: string, rcpt: string[], subject = run, extra: Record<string, string> = {}): Promise<number | undefined> {
  const c = await RawSmtp.connect(sink.smtpPort);
  await c.reply();
  await c.command('EHLO api.test');
  const r = await c.send('sender@api.test', rcpt, message({ Subject: subject, 'X-Mailkind-Run': run, 'Message-ID': `<${subject}.${Math.random()}@api.test>`, ...extra }));
  c.destroy();
  return r?.code;
}

describe('sink HTTP API', () => {
  it('health, readiness and Prometheus metrics', async () => {
    expect(await api(sink, '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await api(sink, '/readyz')).toEqual({ status: 200, body: { status: 'ready' } });
    await send('metrics', ['m@x.test']);
    const res = await fetch(sink.url + '/metrics');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE mailkind_sink_messages_accepted_total counter$/m);
    expect(text).toMatch(/^mailkind_sink_messages_accepted_total [1-9]\d*$/m);
    expect(text).toMatch(/^mailkind_sink_replies_total\{phase="data",code="250"\} [1-9]/m);
    expect(text).toMatch(/^mailkind_sink_process_resident_memory_bytes \d+/m);
  });

  it('messages: filters by run and recipient, newest first, limit and total', async () => {
    await send('filter-a', ['one@x.test'], 'a1');
    await send('filter-a', ['two@x.test'], 'a2');
    await send('filter-b', ['one@x.test'], 'b1');
    const byRun = await api<{ total: number; messages: { subject: string }[] }>(sink, '/api/messages?run=filter-a');
    expect(byRun.body.messages.map((m) => m.subject)).toEqual(['a2', 'a1']);
    const byRcpt = await api<{ messages: { subject: string }[] }>(sink, '/api/messages?rcpt=ONE@x.test&run=filter-b');
    expect(byRcpt.body.messages.map((m) => m.subject)).toEqual(['b1']);
    const limited = await api<{ total: number; count: number }>(sink, '/api/messages?run=filter-a&limit=1');
    expect(limited.body).toMatchObject({ total: 2, count: 1 });
  });

  it('wait: returns once the count is reached, even when the mail arrives later', async () => {
    const waiting = api<{ count: number }>(sink, '/api/messages/wait?run=later&count=2&timeoutMs=10000');
    await send('later', ['a@x.test'], 'l1');
    await send('later', ['a@x.test'], 'l2');
    expect(await waiting).toEqual({ status: 200, body: { run: 'later', wanted: 2, count: 2 } });
  });

  it('wait: 408 with the count so far at the deadline', async () => {
    await send('short', ['a@x.test']);
    const r = await api<{ count: number; error: string }>(sink, '/api/messages/wait?run=short&count=5&timeoutMs=50');
    expect(r.status).toBe(408);
    expect(r.body).toMatchObject({ count: 1, wanted: 5 });
    expect(r.body.error).toMatch(/timed out after 50 ms with 1 of 5/);
  });

  it('attempts: every attempt, refused ones included, oldest first', async () => {
    expect(await send('att', ['tempfail@x.test'], 'att1')).toBe(451);
    expect(await send('att', ['ok@x.test'], 'att2')).toBe(250);
    const r = await api<{ attempts: { phase: string; code: number; rcptTo: string[]; time: string }[] }>(sink, '/api/attempts?run=att');
    expect(r.body.attempts.map((a) => [a.phase, a.code, a.rcptTo[0]])).toEqual([
      ['data', 451, 'tempfail@x.test'],
      ['data', 250, 'ok@x.test'],
    ]);
    expect(Date.parse(r.body.attempts[0]!.time)).not.toBeNaN();
    const byRcpt = await api<{ count: number }>(sink, '/api/attempts?rcpt=tempfail@x.test');
    expect(byRcpt.body.count).toBe(1);
  });

  it('one message by id, and its raw form when bodies are kept', async () => {
    await send('raw', ['a@x.test'], 'raw-subject');
    const { body } = await api<{ messages: { id: number; hasBody: boolean }[] }>(sink, '/api/messages?run=raw');
    const id = body.messages[0]!.id;
    expect(body.messages[0]!.hasBody).toBe(true);
    expect((await api<{ id: number }>(sink, `/api/messages/${id}`)).body.id).toBe(id);
    const raw = await fetch(`${sink.url}/api/messages/${id}/raw`);
    expect(raw.headers.get('content-type')).toBe('message/rfc822');
    expect(await raw.text()).toMatch(/^Subject: raw-subject\r\n[\s\S]*hello\r\n$/);
    expect((await api(sink, '/api/messages/999999')).status).toBe(404);
  });

  it('DELETE with a run resets only that run; without, everything', async () => {
    await send('del-a', ['a@x.test']);
    await send('del-b', ['a@x.test']);
    await api(sink, '/api/messages?run=del-a', { method: 'DELETE' });
    expect((await api<{ total: number }>(sink, '/api/messages?run=del-a')).body.total).toBe(0);
    expect((await api<{ total: number }>(sink, '/api/messages?run=del-b')).body.total).toBe(1);
    await api(sink, '/api/messages', { method: 'DELETE' });
    const stats = await api<{ accepted: number; stored: { messages: number } }>(sink, '/api/stats');
    expect(stats.body).toMatchObject({ accepted: 0, stored: { messages: 0 } });
    // metrics stay monotonic across resets
    expect(await (await fetch(sink.url + '/metrics')).text()).toMatch(/^mailkind_sink_messages_accepted_total [1-9]\d*$/m);
  });

  it('stats: the docs/contract.md fields', async () => {
    const { body } = await api<Record<string, unknown>>(sink, '/api/stats');
    for (const k of ['accepted', 'rejected', 'tempfailed', 'connections', 'bytes']) expect(typeof body[k], k).toBe('number');
  });

  it('clear errors: 400 for bad parameters, 404 for unknown paths, 405 with Allow for wrong methods', async () => {
    const bad = await api<{ error: string }>(sink, '/api/messages?limit=lots');
    expect(bad).toEqual({ status: 400, body: { error: 'limit must be a whole number, got "lots"' } });
    expect((await api(sink, '/api/messages/wait?timeoutMs=99999999')).status).toBe(400);
    const emptyRun = await api<{ error: string }>(sink, '/api/messages?run=', { method: 'DELETE' });
    expect(emptyRun).toEqual({ status: 400, body: { error: 'run is empty; leave it out to mean every run' } });
    expect((await api<{ error: string }>(sink, '/api/nothing')).status).toBe(404);
    const res = await fetch(sink.url + '/api/stats', { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
  });

  it('an event stream announces itself with a snapshot', async () => {
    const ctrl = new AbortController();
    const res = await fetch(sink.url + '/api/events', { signal: ctrl.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value as Uint8Array);
    expect(text).toMatch(/^event: snapshot\ndata: \{"stats":/);
    ctrl.abort();
  });
});

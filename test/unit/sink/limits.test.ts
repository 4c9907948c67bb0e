// Resource limits of the sink's long-lived parts: live dashboards (SSE) and delayed replies.
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FaultEngine } from '../../../sinks/smtp-sink/src/faults/engine.js';
import { EventHub, MAX_EVENT_CLIENTS, MAX_QUEUED_BYTES } from '../../../sinks/smtp-sink/src/http/events.js';
import { SinkStore } from '../../../sinks/smtp-sink/src/record/store.js';
import { FastGreetingSMTPServer } from '../../../sinks/smtp-sink/src/smtp/fast-greeting.js';

/** A stand-in ServerResponse: records what is written; `writableLength` is what the test says is queued. */
class StubResponse extends EventEmitter {
  status = 0;
  body = '';
  writes = 0;
  destroyed = false;
  writableLength = 0;
  writeHead(status: number) {
    this.status = status;
    return this;
  }
  write(chunk: string) {
    this.writes++;
    this.body += chunk;
    return true;
  }
  end(chunk?: string) {
    if (chunk) this.body += chunk;
    this.emit('close');
  }
  destroy() {
    this.destroyed = true;
    this.emit('close');
  }
}

const asRes = (s: StubResponse) => s as unknown as ServerResponse;

describe('live dashboards (GET /api/events)', () => {
  afterEach(() => vi.useRealTimers());

  it(`serves at most ${MAX_EVENT_CLIENTS} at once and answers the next with 503 and a hint`, () => {
    const hub = new EventHub(new SinkStore({ maxMessages: 10, maxAttempts: 10, bodyBudget: 0 }), new FaultEngine());
    const clients = Array.from({ length: MAX_EVENT_CLIENTS }, () => new StubResponse());
    for (const c of clients) hub.attach(asRes(c));
    expect(clients.every((c) => c.status === 200)).toBe(true);
    const extra = new StubResponse();
    hub.attach(asRes(extra));
    expect(extra.status).toBe(503);
    expect(extra.body).toContain('too many live dashboards');
    // one leaves: there is room again
    clients[0]!.emit('close');
    const next = new StubResponse();
    hub.attach(asRes(next));
    expect(next.status).toBe(200);
    hub.close();
  });

  it('drops a client that stops reading once its queue passes the limit; the others keep getting events', () => {
    vi.useFakeTimers();
    const hub = new EventHub(new SinkStore({ maxMessages: 10, maxAttempts: 10, bodyBudget: 0 }), new FaultEngine(), 1000);
    const stuck = new StubResponse();
    const fine = new StubResponse();
    hub.attach(asRes(stuck));
    hub.attach(asRes(fine));
    vi.advanceTimersByTime(1000);
    expect(stuck.destroyed).toBe(false);
    stuck.writableLength = MAX_QUEUED_BYTES + 1;
    vi.advanceTimersByTime(1000);
    expect(stuck.destroyed).toBe(true);
    const writes = stuck.writes;
    hub.broadcast('faults', {});
    vi.advanceTimersByTime(3000);
    expect(stuck.writes, 'nothing more is written to a dropped client').toBe(writes);
    expect(fine.destroyed).toBe(false);
    expect(fine.body.match(/event: tick/g)?.length).toBe(5);
    hub.close();
  });
});

describe('delayed replies (slow-<ms> faults)', () => {
  afterEach(() => vi.useRealTimers());

  it('fire after their delay, and close() cancels the ones still waiting', () => {
    vi.useFakeTimers();
    const server = new FastGreetingSMTPServer({ disabledCommands: ['AUTH'], logger: false });
    const fired: string[] = [];
    server.later(100, () => fired.push('short'));
    server.later(60_000, () => fired.push('long'));
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['short']);
    server.close();
    vi.advanceTimersByTime(120_000);
    expect(fired).toEqual(['short']);
  });
});

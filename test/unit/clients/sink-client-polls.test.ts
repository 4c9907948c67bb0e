// scripts/lib/clients/sink-client.ts: a long wait is split into polls that each answer before Node
// fetch's (undici's) headersTimeout of 300 s, so a slow run ends with a count, not a connection error.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_POLL_MS, SinkClient } from '../../../scripts/lib/clients/sink-client.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('SinkClient long-polls stay under Node fetch headersTimeout (300 s)', () => {
  it('a 10-minute wait is several polls of at most MAX_POLL_MS, each with its own deadline', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const polls: number[] = [];
    // the sink holds each poll for its full timeoutMs and answers 408 with the count so far
    const fetchImpl = (input: string | URL): Promise<Response> => {
      const waited = Number(new URL(String(input)).searchParams.get('timeoutMs'));
      polls.push(waited);
      vi.setSystemTime(Date.now() + waited);
      return Promise.resolve(new Response(JSON.stringify({ count: 0 }), { status: 408, headers: { 'content-type': 'application/json' } }));
    };
    const c = new SinkClient('http://127.0.0.1:1', { fetchImpl });
    expect(await c.waitForCount('r', 1, 600_000)).toEqual({ reached: false, count: 0 });
    expect(MAX_POLL_MS).toBeLessThan(300_000);
    expect(polls.length).toBeGreaterThan(1);
    expect(Math.max(...polls)).toBeLessThanOrEqual(MAX_POLL_MS);
    expect(polls.reduce((a, b) => a + b, 0)).toBe(600_000);
  });
});

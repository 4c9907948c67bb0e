// `up`'s last step: the URLs it prints must answer from this machine (lifecycle/reach.ts).
// Real HTTP servers on loopback stand for the host ports.
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { freePorts } from '../../../bench/lib/net.js';
import { answered, reachChecks, waitForReach, type ReachCheck } from '../../../scripts/lib/lifecycle/reach.js';
import { PORTS, type PortKey } from '../../../scripts/lib/config/settings.js';

const ports = Object.fromEntries(Object.entries(PORTS).map(([k, v]) => [k, v.host])) as Record<PortKey, number>;
const servers: Server[] = [];

/** A server whose answers are the given statuses in turn, the last one repeated. */
async function answering(statuses: number[]): Promise<{ url: string; asked: () => number }> {
  let asked = 0;
  const server = createServer((_req, res) => {
    res.writeHead(statuses[Math.min(asked, statuses.length - 1)]!).end();
    asked += 1;
  });
  servers.push(server);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const a = server.address();
  return { url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/healthz`, asked: () => asked };
}

const check = (url: string, key: PortKey = 'sinkHttp'): ReachCheck => ({ key, what: PORTS[key].what, url });

afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((res) => s.close(res));
});

describe('reach: the printed URLs answer from this machine', () => {
  it('asks the HTTP ports of the profile on paths that need no credentials', () => {
    const minimal = reachChecks({ host: '127.0.0.1', ports, profile: 'minimal' });
    expect(minimal.map((c) => c.url)).toEqual(['http://127.0.0.1:8000/api/check-liveness/v1', 'http://127.0.0.1:8025/healthz']);
    const full = reachChecks({ host: '127.0.0.1', ports: { ...ports, mailmanWeb: 9090 }, profile: 'full' });
    expect(full.map((c) => c.key)).toEqual(['kumoHttp', 'sinkHttp', 'mailmanRest', 'mailmanWeb']);
    expect(full.at(-1)!.url).toBe('http://127.0.0.1:9090/postorius/lists/');
  });

  it('takes any answer below 500 as the workload answering (401 from Mailman REST without credentials); 5xx is not ready yet', () => {
    for (const s of [200, 302, 401, 404]) expect(answered(s)).toBe(true);
    for (const s of [500, 502, 503]) expect(answered(s)).toBe(false);
  });

  it('asks again until a URL answers: 503 twice (kube-proxy has not written its rules), then 200', async () => {
    const late = await answering([503, 503, 200]);
    const now = await answering([401]);
    const r = await waitForReach([check(late.url), check(now.url, 'mailmanRest')], { timeoutSeconds: 10, intervalMs: 10 });
    expect(r.silent).toEqual([]);
    expect(r.answered.map((a) => a.check.key).sort()).toEqual(['mailmanRest', 'sinkHttp']);
    expect(late.asked()).toBe(3);
    expect(now.asked()).toBe(1);
  });

  it('reports the URLs that never answer by the deadline, with what each last said', async () => {
    const failing = await answering([503]);
    const [closed] = (await freePorts(1)) as [number];
    const r = await waitForReach([check(failing.url), check(`http://127.0.0.1:${closed}/healthz`, 'kumoHttp')], { timeoutSeconds: 1.5, intervalMs: 20 });
    expect(r.answered).toEqual([]);
    const last = Object.fromEntries(r.silent.map((s) => [s.check.key, s.last]));
    expect(last.sinkHttp).toBe('HTTP 503');
    expect(last.kumoHttp).toMatch(/cannot reach GET http:\/\/127\.0\.0\.1:\d+\/healthz \(ECONNREFUSED\)/);
    expect(failing.asked()).toBeGreaterThan(1);
  });
});

// The shared request wrapper of the HTTP clients, in a process of its own. A peer that accepts a
// connection and closes it at once (docker-proxy before the port's backend is up) leaves Node's
// fetch unsettled, holding no handle: with a deadline timer that does not hold the process open
// either (AbortSignal.timeout), the process exited with code 13 mid-await, which is how `up`'s
// reach step died on the real kind cluster.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { join } from 'node:path';
import { ROOT, tsEntry } from '../../helpers/entry-point.js';

const servers: Server[] = [];
afterAll(() => servers.forEach((s) => s.close()));

async function peer(onConnection: (sock: Socket) => void): Promise<string> {
  const server = createServer(onConnection);
  servers.push(server);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const a = server.address();
  return `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/healthz`;
}

const sendOnce = (url: string, ms: number) => execa(...tsEntry(join(ROOT, 'test/fixtures/clients/send-once.ts'), [url, String(ms)]), { reject: false });

describe('send: the deadline holds in a process of its own', () => {
  it('a peer that closes every connection at once: a timeout error at the deadline, not exit 13', async () => {
    const url = await peer((sock) => sock.end());
    const r = await sendOnce(url, 1000);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^(timeout: peer: no answer to GET \S+ within 1000 ms|connection: peer: cannot reach GET \S+)/);
  }, 30_000);

  it('a peer that accepts and never answers: a timeout error at the deadline', async () => {
    const url = await peer(() => undefined);
    const r = await sendOnce(url, 500);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^timeout: peer: no answer to GET \S+ within 500 ms/);
  }, 30_000);
});

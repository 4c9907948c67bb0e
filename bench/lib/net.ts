// Loopback helpers: free ports from the OS, and waiting for an SMTP greeting.
import { connect, createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const HOST = '127.0.0.1';

function listenZero(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => resolve(server));
  });
}

/** n distinct free loopback ports: all are held open together, read, then closed. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) servers.push(await listenZero());
    return servers.map((s) => {
      const addr = s.address();
      if (addr === null || typeof addr === 'string') throw new Error('listen(0) gave no TCP port');
      return addr.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** One attempt: connect, read the first reply line, say QUIT. Resolves with the line. */
function greetingOnce(port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port });
    let buf = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no greeting within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const eol = buf.indexOf('\n');
      if (eol < 0) return;
      clearTimeout(timer);
      socket.end('QUIT\r\n');
      resolve(buf.slice(0, eol).trim());
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    });
  });
}

/**
 * Waits until an SMTP server on the port greets with 220. `gone()` returns a reason when the
 * server's process has exited, which ends the wait at once.
 */
export async function waitForSmtpGreeting(port: number, timeoutMs: number, gone: () => string | undefined): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = 'not tried';
  while (Date.now() < deadline) {
    const why = gone();
    if (why !== undefined) throw new Error(why);
    try {
      const line = await greetingOnce(port, Math.max(500, deadline - Date.now()));
      if (line.startsWith('220')) return line;
      last = `greeting was "${line}"`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(100);
  }
  throw new Error(`no 220 greeting on ${HOST}:${port} within ${timeoutMs} ms (last: ${last})`);
}

// The real entry point (`npm run sink`), as a user or the container runs it.
import net, { type AddressInfo } from 'node:net';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { tsEntry } from '../../helpers/entry-point.js';

const MAIN = 'sinks/smtp-sink/src/main.ts';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('npm run sink', () => {
  it('--help documents the flags and their env twins', async () => {
    const r = await execa(...tsEntry(MAIN, ['--help']));
    const text = r.stdout.replace(/\s+/g, ' ');
    expect(text).toMatch(/--smtp-port <port> SMTP port \(default: 2525, env: SINK_SMTP_PORT\)/);
    expect(text).toMatch(/--http-port <port> .*\(default: 8025, env: SINK_HTTP_PORT\)/);
    expect(text).toMatch(/tempfail-<n>/);
    expect(r.exitCode).toBe(0);
  });

  it('a usage error found after parsing (the same port twice) exits 2 too', async () => {
    const clash = await execa(...tsEntry(MAIN, ['--smtp-port', '2600', '--http-port', '2600']), { reject: false });
    expect(clash.stderr).toMatch(/both 2600/);
    expect(clash.exitCode).toBe(2);
  });

  it('a bad flag: one clear line, exit 2 (bad usage), no stack trace', async () => {
    const r = await execa(...tsEntry(MAIN, ['--smtp-port', 'twenty-five']), { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/"twenty-five" is not a port number/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a port in use: says which and how to fix, exit 1, no stack trace', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => blocker.once('listening', resolve));
    const taken = (blocker.address() as AddressInfo).port;
    try {
      const r = await execa(...tsEntry(MAIN, ['--http-port', String(await freePort())]), { reject: false, env: { SINK_SMTP_PORT: String(taken) } });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toBe(`smtp-sink: SMTP port ${taken} on 127.0.0.1 is already in use; choose another with --smtp-port / SINK_SMTP_PORT (or stop what holds it).`);
    } finally {
      blocker.close();
    }
  });

  it('a missing certificate file: clear error, exit 1', async () => {
    const r = await execa(...tsEntry(MAIN, ['--smtp-port', '0', '--http-port', '0', '--tls-cert', '/nonexistent/c.pem', '--tls-key', '/nonexistent/k.pem']), { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/cannot read the TLS certificate \/nonexistent\/c\.pem: ENOENT/);
  });

  it('serves from env settings and stops cleanly on SIGTERM', async () => {
    const [smtp, http] = [await freePort(), await freePort()];
    const child = execa(...tsEntry(MAIN), { env: { SINK_SMTP_PORT: String(smtp), SINK_HTTP_PORT: String(http) }, reject: false });
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('API and dashboard')) resolve();
      });
      child.once('exit', () => reject(new Error('sink exited early')));
    });
    expect((await fetch(`http://127.0.0.1:${http}/readyz`)).status).toBe(200);
    child.kill('SIGTERM');
    const r = await child;
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`SMTP on 127\\.0\\.0\\.1:${smtp}`));
    expect(r.stdout).toMatch(/SIGTERM, finishing open transactions/);
  });
});

// Before a run: is the target there and does it speak the protocol? Failures become one line of
// cause and one of fix (UserError, exit 1), so a typo in --target or a stack that is down never
// turns into thousands of counted connection errors.
import { UserError } from '../cli/errors.js';
import type { LoadConfig } from './options.js';
import { SmtpClientError, SmtpSessionRefused } from './smtp-client.js';
import { SmtpTransport } from './smtp-transport.js';
import { HttpTransport, injectCredentials, tcpReachable } from './http-transport.js';
import { MessageFactory } from './message.js';

/** Where to look when the default (cluster) target or a given one does not answer. */
export function unreachableFix(c: Pick<LoadConfig, 'defaultTarget' | 'target' | 'mode'>): string {
  if (c.defaultTarget) {
    return 'start the stack with `npm run up` (check it with `npm run status`), or send to a local sink: `npm run sink -- --smtp-port 2526 --http-port 8026`, then `npm run load -- --target 127.0.0.1:2526`';
  }
  return c.mode === 'smtp'
    ? `check --target ${c.target.label}: is an SMTP server listening there? (a local sink listens where \`npm run sink -- --smtp-port <port>\` says; 8025 and 8026 are HTTP ports)`
    : `check --target ${c.target.label}: is KumoMTA's HTTP listener there? (\`npm run status\` shows the stack's endpoints)`;
}

export function smtpTransport(c: LoadConfig): SmtpTransport {
  if (c.target.kind !== 'smtp') throw new Error('smtpTransport needs an SMTP target');
  return new SmtpTransport({ host: c.target.host, port: c.target.port, starttls: c.starttls, timeoutMs: c.timeoutMs });
}

/** One SMTP session against the target; throws UserError with a fix when it fails. */
export async function probeSmtp(c: LoadConfig, transport: SmtpTransport): Promise<void> {
  const where = `${c.target.label}${c.defaultTarget ? ' (the KumoMTA relay port)' : ''}`;
  try {
    await transport.probe();
  } catch (e) {
    if (e instanceof SmtpSessionRefused) {
      throw new UserError(`${where} refused the SMTP session at ${e.phase}: ${e.reply.code} ${e.reply.text.split('\n')[0] ?? ''}`, e.reply.code === 421 ? 'the server is busy or shutting down: try again, or lower --concurrency' : unreachableFix(c));
    }
    if (e instanceof SmtpClientError) {
      if (e.kind === 'connect' || e.kind === 'timeout') throw new UserError(`${e.message}`, unreachableFix(c));
      if (c.starttls && /STARTTLS|TLS/.test(e.message)) throw new UserError(`${where}: ${e.message}`, 'drop --starttls, or send to a server that offers STARTTLS (the sink does unless started with --no-starttls)');
      throw new UserError(`${where} does not speak SMTP as expected: ${e.message}`, `${unreachableFix(c)}; for KumoMTA's HTTP API use --mode http`);
    }
    throw e;
  }
}

/** Credentials present and something listening at the URL; nothing is injected. */
export async function prepareHttp(c: LoadConfig, env: NodeJS.ProcessEnv): Promise<HttpTransport> {
  if (c.target.kind !== 'http') throw new Error('prepareHttp needs an HTTP target');
  const creds = await injectCredentials(env, c.secretsPath);
  const why = await tcpReachable(c.target.url, c.timeoutMs);
  if (why !== undefined) {
    throw new UserError(`cannot connect to ${c.target.url.host}${c.defaultTarget ? " (KumoMTA's HTTP listener)" : ''}: ${why}`, unreachableFix(c));
  }
  const body = new MessageFactory(c.run, c.size).body;
  return new HttpTransport({ baseUrl: c.target.base, username: creds.username, password: creds.password }, c.run, body, c.timeoutMs, creds.source);
}

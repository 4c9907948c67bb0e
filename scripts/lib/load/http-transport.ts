// HTTP mode: each job is one POST /api/inject/v1 carrying its recipients (kumod makes one message
// per recipient), through the shared inject client (scripts/lib/clients/kumo-inject.ts), which
// builds the request (basic auth, one Message-ID per recipient) and parses the answer.
import { connect } from 'node:net';
import { ClientError } from '../clients/http.js';
import { inject, type InjectEndpoint } from '../clients/kumo-inject.js';
import { UserError } from '../cli/errors.js';
import { readSecrets } from '../secrets/file.js';
import { MESSAGE_ID_DOMAIN } from './message.js';
import type { Job, JobSource, Slot, Transport } from './runner.js';
import type { ErrorKind } from './smtp-client.js';
import { refusalClass, type Outcome } from './stats.js';

export const CREDENTIALS_FIX = 'compare them with `npm run status -- --show-secrets` (a re-created stack has new ones: `npm run up` applies the current file)';

/** Credentials: MAILKIND_KUMO_HTTP_USER/_PASSWORD (as the e2e suite reads them), else the secrets file. */
export async function injectCredentials(env: NodeJS.ProcessEnv, secretsPath: string): Promise<{ username: string; password: string; source: string }> {
  const user = env.MAILKIND_KUMO_HTTP_USER;
  const password = env.MAILKIND_KUMO_HTTP_PASSWORD;
  if (user && password) return { username: user, password, source: 'MAILKIND_KUMO_HTTP_USER/_PASSWORD' };
  let secrets;
  try {
    secrets = await readSecrets(secretsPath);
  } catch (e) {
    throw new UserError(`cannot read the secrets file ${secretsPath}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, 'run `npm run up`: it writes the file (or set MAILKIND_KUMO_HTTP_USER and MAILKIND_KUMO_HTTP_PASSWORD)');
  }
  if (!secrets) {
    throw new UserError(`no credentials for KumoMTA's inject API: ${secretsPath} is missing or incomplete`, 'run `npm run up` (it generates them), or set MAILKIND_KUMO_HTTP_USER and MAILKIND_KUMO_HTTP_PASSWORD');
  }
  return { username: secrets['kumomta-http'].username, password: secrets['kumomta-http'].password, source: secretsPath };
}

const ERROR_KIND: Record<string, ErrorKind> = { timeout: 'timeout', connection: 'connect', protocol: 'protocol' };

/** What one request's answer (or failure) counts as. */
export function httpOutcome(result: { successCount: number; failCount: number; errors: string[] } | ClientError, recipients: number): Outcome {
  if (result instanceof ClientError) {
    const status = result.status;
    if (result.kind === 'auth' || (result.kind === 'http' && status !== undefined)) {
      const code = status ?? 401;
      const cls = refusalClass(code);
      return {
        kind: 'reply',
        accepted: false,
        code,
        recipients: { accepted: 0, refused4xx: cls === '4xx' ? recipients : 0, refused5xx: cls === '5xx' ? recipients : 0 },
        text: result.message,
      };
    }
    return { kind: 'error', error: ERROR_KIND[result.kind] ?? 'protocol', message: result.message };
  }
  // a 200 may still list failed recipients (kumod refused them): counted as permanent refusals
  const accepted = result.successCount > 0;
  return {
    kind: 'reply',
    accepted,
    code: 200,
    ...(accepted ? {} : { refusal: '5xx' as const }),
    recipients: { accepted: result.successCount, refused4xx: 0, refused5xx: result.failCount },
    ...(result.errors.length > 0 ? { text: result.errors[0] } : {}),
  };
}

/** One Message-ID per recipient, without angle brackets (the inject client's form). */
export function recipientMessageIds(job: Pick<Job, 'messageId' | 'recipients'>): string[] {
  const local = job.messageId.slice(1, job.messageId.indexOf('@'));
  return job.recipients.map((_, i) => `${local}.${i}@${MESSAGE_ID_DOMAIN}`);
}

class HttpSlot implements Slot {
  constructor(private readonly t: HttpTransport) {}

  async run(source: JobSource): Promise<void> {
    for (let job = await source.next(); job !== undefined; job = await source.next()) {
      let outcome: Outcome;
      try {
        const r = await inject(
          this.t.endpoint,
          { from: job.from, recipients: job.recipients, subject: `mailkind load ${this.t.run} #${job.seq}`, text: this.t.body, run: this.t.run, messageIds: recipientMessageIds(job) },
          { timeoutMs: this.t.timeoutMs },
        );
        outcome = httpOutcome(r, job.recipients.length);
      } catch (e) {
        outcome = e instanceof ClientError ? httpOutcome(e, job.recipients.length) : { kind: 'error', error: 'protocol', message: e instanceof Error ? e.message : String(e) };
      }
      source.done(job, outcome);
    }
  }
}

export class HttpTransport implements Transport {
  constructor(
    readonly endpoint: InjectEndpoint,
    readonly run: string,
    /** the text body of every message */
    readonly body: string,
    readonly timeoutMs: number,
    readonly credentialsSource: string,
  ) {}

  slot(): Slot {
    return new HttpSlot(this);
  }

  /** Wrong credentials fail every request the same way: stop at the first and say how to fix it. */
  fatal(outcome: Outcome): Error | undefined {
    if (outcome.kind !== 'reply' || outcome.code !== 401) return undefined;
    return new UserError(`KumoMTA refused the inject credentials from ${this.credentialsSource} (HTTP 401)`, CREDENTIALS_FIX);
  }
}

/** Is anything listening at the URL's host and port? Resolves with the error text, or undefined. */
export function tcpReachable(url: URL, timeoutMs: number): Promise<string | undefined> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (why: string | undefined) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () => finish(`no answer within ${timeoutMs} ms`));
    socket.once('connect', () => finish(undefined));
    socket.once('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
  });
}

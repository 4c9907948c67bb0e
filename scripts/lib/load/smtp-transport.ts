// SMTP mode: one connection per slot, reused for every message, reopened after a failure or a 421.
import { SmtpClientError, SmtpConnection, SmtpSessionRefused, type SmtpConnectOptions, type TransactionResult } from './smtp-client.js';
import { refusalClass, type Outcome } from './stats.js';
import { connectBackoffMs, type Job, type JobSource, type Slot, type SlotHooks, type Transport } from './runner.js';

/** How long the target probe waits for a greeting before calling the target not SMTP. */
export const PROBE_GREETING_MS = 5_000;

/** A transaction's result -> what the stats count, recipients included. */
export function smtpOutcome(r: TransactionResult, recipients: number): Outcome {
  const counted = { accepted: 0, refused4xx: 0, refused5xx: 0 };
  const add = (code: number, n = 1) => {
    const cls = refusalClass(code);
    if (cls === '4xx') counted.refused4xx += n;
    else if (cls === '5xx') counted.refused5xx += n;
  };
  if (r.phase === 'message' || r.phase === 'data') {
    // RCPT refusals stand; the others share the fate of the message
    const taken = r.rcptCodes.filter((c) => c >= 200 && c < 300).length;
    for (const c of r.rcptCodes) if (c >= 300) add(c);
    if (r.accepted) counted.accepted = taken;
    else add(r.code, taken);
  } else if (r.phase === 'rcpt') {
    for (const c of r.rcptCodes) add(c);
    // recipients the server never answered (it closed with 421 partway)
    add(r.code, recipients - r.rcptCodes.length);
  } else {
    add(r.code, recipients);
  }
  return { kind: 'reply', accepted: r.accepted, code: r.code, recipients: counted, ...(r.accepted ? {} : { text: r.text }) };
}

export function sessionRefusedOutcome(e: SmtpSessionRefused, recipients: number): Outcome {
  const cls = refusalClass(e.reply.code);
  return {
    kind: 'reply',
    accepted: false,
    code: e.reply.code,
    recipients: { accepted: 0, refused4xx: cls === '4xx' ? recipients : 0, refused5xx: cls === '5xx' ? recipients : 0 },
    text: `${e.phase}: ${e.reply.text}`,
  };
}

export function errorOutcome(e: unknown): Outcome {
  if (e instanceof SmtpClientError) return { kind: 'error', error: e.kind, message: e.message };
  return { kind: 'error', error: 'protocol', message: e instanceof Error ? e.message : String(e) };
}

/**
 * One connection, reopened after a failure. A message that never had its content sent when the
 * connection ended (it was queued behind the one that failed) goes out again on the next one; the
 * message the failure hit is counted as that failure, so every failure costs at least one message
 * and a server that always drops the connection cannot make the slot loop.
 */
class SmtpSlot implements Slot {
  constructor(
    private readonly options: SmtpConnectOptions,
    private readonly hooks: SlotHooks,
  ) {}

  async run(source: JobSource): Promise<void> {
    const retry: Job[] = [];
    let conn: SmtpConnection | undefined;
    let connectFailures = 0;
    // jobs already handed out are sent even when the run is stopping: each gets an outcome
    const next = async () => retry.shift() ?? (await source.next());
    const poll = () => retry.shift() ?? source.poll();
    const done = (job: Job, r: TransactionResult | SmtpClientError) =>
      source.done(job, r instanceof SmtpClientError ? errorOutcome(r) : smtpOutcome(r, job.recipients.length));
    try {
      for (;;) {
        const first = await next();
        if (first === undefined) return;
        if (!conn?.usable) {
          conn?.destroy();
          conn = undefined;
          try {
            conn = await SmtpConnection.open(this.options);
            this.hooks.connected();
            connectFailures = 0;
          } catch (e) {
            source.done(first, e instanceof SmtpSessionRefused ? sessionRefusedOutcome(e, first.recipients.length) : errorOutcome(e));
            if (e instanceof SmtpClientError && e.kind === 'connect') await source.pause(connectBackoffMs(++connectFailures));
            continue;
          }
        }
        let pending: Job | undefined = first;
        const end = await conn.stream(
          {
            poll: () => {
              const j = pending ?? poll();
              pending = undefined;
              return j;
            },
            next: async () => {
              const j = pending ?? (await next());
              pending = undefined;
              return j;
            },
          },
          done,
        );
        if (end.ok) return;
        retry.push(...end.unsent);
      }
    } finally {
      await conn?.close();
    }
  }
}

export class SmtpTransport implements Transport {
  constructor(readonly options: SmtpConnectOptions) {}

  slot(hooks: SlotHooks): Slot {
    return new SmtpSlot(this.options, hooks);
  }

  /** One session (connect, greeting, EHLO, STARTTLS when asked), then QUIT. Throws what open() throws. */
  async probe(): Promise<{ pipelining: boolean; starttls: boolean }> {
    // SMTP servers greet at once; a target that stays silent is most likely not SMTP: say so in seconds, not after --timeout
    const conn = await SmtpConnection.open({ greetingTimeoutMs: PROBE_GREETING_MS, ...this.options });
    const caps = conn.capabilities;
    await conn.close();
    return { pipelining: caps.pipelining, starttls: caps.starttls };
  }
}

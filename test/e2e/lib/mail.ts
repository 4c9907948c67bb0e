// Addresses and SMTP submission for the scenarios.
import nodemailer from 'nodemailer';
import { makeMessageId, RUN_HEADER } from '../../../scripts/lib/clients/kumo-inject.js';
import type { Cluster } from './cluster.js';
import { plainIp } from './measure.js';

/**
 * `<local>+<run>@<domain>`: unique per run; the sink ignores "+tag" when it reads a fault from the
 * local part, so "tempfail-2+<run>" still means tempfail-2.
 */
export function address(local: string, run: string, domain: string): string {
  return `${local}+${run}@${domain}`;
}

/** n addresses `<prefix><i>+<run>@<domain>`; the prefix must not start like a sink fault. */
export function addresses(prefix: string, run: string, domain: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => address(`${prefix}${i}`, run, domain));
}

export interface SmtpMessage {
  host: string;
  port: number;
  from: string;
  to: string[];
  subject: string;
  text: string;
  run: string;
  messageId?: string;
}

/**
 * One message over SMTP with nodemailer. STARTTLS when offered, any certificate (kumod's
 * listener uses a self-signed one). Resolves with the Message-ID (no brackets)
 * and the recipients the server accepted and refused.
 */
export async function smtpSend(m: SmtpMessage): Promise<{ messageId: string; accepted: string[]; rejected: string[] }> {
  const messageId = m.messageId ?? makeMessageId(m.run);
  const transport = nodemailer.createTransport({
    host: m.host,
    port: m.port,
    secure: false,
    tls: { rejectUnauthorized: false },
    name: 'e2e.mailkind.test',
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  try {
    const info = await transport.sendMail({
      from: m.from,
      to: m.to,
      subject: m.subject,
      text: m.text,
      messageId: `<${messageId}>`,
      headers: { [RUN_HEADER]: m.run },
    });
    return { messageId, accepted: info.accepted.map(String), rejected: info.rejected.map(String) };
  } finally {
    transport.close();
  }
}

/** Pod IP -> pod name of every kumomta pod, for telling which replica delivered to the sink. */
export async function kumodByIp(cluster: Cluster): Promise<Map<string, string>> {
  const pods = await cluster.podsOf('kumomta');
  return new Map(pods.filter((p) => p.ip).map((p) => [plainIp(p.ip as string), p.name]));
}

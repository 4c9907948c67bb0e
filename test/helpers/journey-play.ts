// Plays what kumod and the sink would see for a message that was deferred twice and then
// delivered: real SMTP attempts to a sink (its tempfail-2 fault refuses the first two), and after
// each one the log record kumod would write about it (test/fixtures/kumod-records.ts), posted the
// way the policy's journey hook posts them. For tests, the dashboard screenshot and the docs.
import { retriedMessage } from '../fixtures/kumod-records.js';
import { RawSmtp, message } from './smtp-client.js';

export interface PlayTarget {
  smtpPort: number;
  /** base URL of the sink's HTTP API */
  url: string;
}

async function postRecords(url: string, records: unknown[]): Promise<void> {
  const res = await fetch(`${url}/api/journey/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(records) });
  if (!res.ok) throw new Error(`posting records: ${res.status} ${await res.text()}`);
}

async function smtpAttempt(port: number, from: string, to: string, headers: Record<string, string>): Promise<number | undefined> {
  const c = await RawSmtp.connect(port);
  await c.reply();
  await c.command('EHLO kumomta-0.mailkind.test');
  const r = await c.send(from, [to], message(headers, 'Hello from the journey demo.\r\n'));
  c.destroy();
  return r?.code;
}

/** Returns the reply codes of the three SMTP attempts (451, 451, 250 from a sink). */
export async function playRetriedMessage(target: PlayTarget, o: { messageId: string; recipient: string; run: string; subject: string }): Promise<(number | undefined)[]> {
  const now = () => new Date();
  const [reception, tf1, tf2, delivery] = retriedMessage({ ...o, times: [now(), now(), now(), now()] });
  const stamp = (r: Record<string, unknown> | undefined) => ({ ...r, event_time: new Date().toISOString(), timestamp: Math.floor(Date.now() / 1000) });
  const headers = { From: 'demo@mailkind.test', To: o.recipient, Subject: o.subject, 'Message-ID': `<${o.messageId}>`, 'X-Mailkind-Run': o.run };
  const codes: (number | undefined)[] = [];
  await postRecords(target.url, [stamp(reception)]);
  codes.push(await smtpAttempt(target.smtpPort, 'demo@mailkind.test', o.recipient, headers));
  await postRecords(target.url, [stamp(tf1)]);
  codes.push(await smtpAttempt(target.smtpPort, 'demo@mailkind.test', o.recipient, headers));
  await postRecords(target.url, [stamp(tf2)]);
  codes.push(await smtpAttempt(target.smtpPort, 'demo@mailkind.test', o.recipient, headers));
  await postRecords(target.url, [stamp(delivery)]);
  return codes;
}

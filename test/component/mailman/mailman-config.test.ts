// Real GNU Mailman 3.3.10 (the version maxking/mailman-core:0.5.2 runs) with the project's
// manifests/base/policy/mailman/mailman-extra.cfg appended to an entrypoint-style config: it starts,
// the fragment's settings are the ones in force, and a post over LMTP fans out to every member
// through the outbound SMTP relay (here the project's sink, in the cluster KumoMTA).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import {
  MAILMAN_FRAGMENT,
  MAILMAN_MISSING,
  lmtpHello,
  mailmanAvailable,
  startMailman,
  type RunningMailman,
} from '../../helpers/mailman.js';
import { api, startTestSink } from '../../helpers/sink.js';

interface SinkMessage {
  mailFrom: string;
  rcptTo: string[];
  subject: string | null;
  listId: string | null;
  run: string | null;
  receivedAt: string;
}

/** The fragment as sections of key -> value (lazr.config syntax: `key: value`, `#` comments, later wins). */
function parseCfg(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      const name = header[1]!;
      current = sections.get(name) ?? new Map<string, string>();
      sections.set(name, current);
      continue;
    }
    const kv = /^([^:=]+?)\s*[:=]\s*(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`unparsable line in ${MAILMAN_FRAGMENT}: ${raw}`);
    current.set(kv[1]!, kv[2]!);
  }
  return sections;
}

const available = mailmanAvailable();
if (!available) console.warn(`skipping test/component/mailman: ${MAILMAN_MISSING}`);

describe.skipIf(!available)('Mailman 3.3.10 with manifests/base/policy/mailman/mailman-extra.cfg', () => {
  const fragment = parseCfg(readFileSync(MAILMAN_FRAGMENT, 'utf8'));
  let sink: RunningSink | undefined;
  let mm: RunningMailman | undefined;
  const started = (): RunningMailman => {
    if (!mm) throw new Error('Mailman did not start');
    return mm;
  };

  beforeAll(async () => {
    sink = await startTestSink();
    mm = await startMailman({ smtpHost: '127.0.0.1', smtpPort: sink.smtpPort });
  }, 60_000);

  afterAll(async () => {
    await mm?.stop();
    await sink?.close();
  }, 30_000);

  it('leaves to the container env what the env owns (the fragment would override it)', () => {
    // SMTP_HOST/SMTP_PORT, MAILMAN_REST_*, DATABASE_* are set on the container: see the fragment's header.
    const owned: [string, string[]][] = [
      ['mta', ['smtp_host', 'smtp_port', 'smtp_user', 'smtp_pass']],
      ['webservice', ['port', 'admin_user', 'admin_pass']],
    ];
    for (const [section, keys] of owned) for (const key of keys) expect(fragment.get(section)?.has(key), `[${section}] ${key}`).toBeFalsy();
    expect(fragment.has('database')).toBe(false);
    // and sets what the cluster contract needs (manifests/README.md: LMTP 8024, all interfaces)
    expect(Object.fromEntries(fragment.get('mta') ?? [])).toMatchObject({
      incoming: 'mailman.mta.null.NullMTA',
      lmtp_host: '0.0.0.0',
      lmtp_port: '8024',
    });
    expect(fragment.get('webservice')?.get('hostname')).toBe('0.0.0.0');
  });

  it('answers REST with the generated credentials, and 401 without them', async () => {
    const m = started();
    const { status, body } = await m.rest<{ mailman_version: string; api_version: string }>('/3.1/system/versions');
    expect(status).toBe(200);
    expect(body.mailman_version).toMatch(/^GNU Mailman 3\.3\.10 /);
    expect(body.api_version).toBe('3.1');
    const wrong = await fetch(`${m.restUrl}/3.1/system/versions`, {
      headers: { Authorization: 'Basic ' + Buffer.from(`${m.restUser}:wrong-${m.restPassword}`).toString('base64') },
    });
    expect(wrong.status).toBe(401);
    expect((await fetch(`${m.restUrl}/3.1/system/versions`)).status).toBe(401);
  });

  it('answers LHLO on its LMTP port', async () => {
    const { greeting, lhlo } = await lmtpHello(started().lmtpPort);
    expect(greeting).toMatch(/LMTP/);
    expect(lhlo.join('\n')).toMatch(/8BITMIME/);
  });

  it('runs with the fragment in force over the generated config, env-owned values kept', async () => {
    const m = started();
    const conf = async (section: string): Promise<Record<string, string>> => {
      const { status, body } = await m.rest<Record<string, string>>(`/3.1/system/configuration/${section}`);
      expect(status, section).toBe(200);
      return body;
    };
    // every fragment value is the effective one, except the laptop's loopback and free LMTP port
    const laptop: Record<string, Record<string, string>> = {
      mta: { lmtp_host: '127.0.0.1', lmtp_port: String(m.lmtpPort) },
      webservice: { hostname: '127.0.0.1' },
    };
    for (const [section, values] of fragment) {
      const effective = await conf(section);
      for (const [key, value] of values) expect(effective[key], `[${section}] ${key}`).toBe(laptop[section]?.[key] ?? value);
    }
    // the ones that matter, spelled out
    expect(await conf('mta')).toMatchObject({
      incoming: 'mailman.mta.null.NullMTA', // beat the entrypoint's mailman.mta.exim4.LMTP
      outgoing: 'mailman.mta.deliver.deliver',
      smtp_host: '127.0.0.1', // from the generated ("env") section: the fragment leaves it alone
      smtp_port: String(sink!.smtpPort),
    });
    for (const runner of ['in', 'pipeline', 'out', 'virgin', 'command']) expect((await conf(`runner.${runner}`)).sleep_time, runner).toBe('0.1s');
    expect((await conf('runner.retry')).sleep_time).toBe('2s'); // beat the entrypoint's 10s
    expect((await conf('mailman')).site_owner).toBe('postmaster@mailkind.test');
    expect((await conf('webservice')).admin_user).toBe(m.restUser);
  });

  it('fans a post over LMTP out to every member through the outbound SMTP relay', async () => {
    const m = started();
    const s = sink!;
    const run = `mailman-${randomUUID()}`;
    const domain = 'lists.mailkind.test';
    const list = `team@${domain}`;
    const listId = `team.${domain}`;
    const members = ['alice@members.mailkind.test', 'bob@members.mailkind.test', 'carol@members.mailkind.test'];

    expect((await m.rest('/3.1/domains', { json: { mail_host: domain } })).status).toBe(201);
    expect((await m.rest('/3.1/lists', { json: { fqdn_listname: list } })).status).toBe(201);
    for (const subscriber of members) {
      const r = await m.rest('/3.1/members', {
        json: { list_id: listId, subscriber, pre_verified: true, pre_confirmed: true, pre_approved: true, send_welcome_message: false },
      });
      expect(r.status, `subscribe ${subscriber}: ${JSON.stringify(r.body)}`).toBe(201);
    }
    expect((await m.rest<{ total_size: number }>(`/3.1/lists/${listId}/roster/member`)).body.total_size).toBe(3);

    // From a member, with a Subject and the list in To: accepted by a list with default settings.
    const token = randomUUID();
    const lmtp = nodemailer.createTransport({ host: '127.0.0.1', port: m.lmtpPort, lmtp: true, ignoreTLS: true, name: 'client.mailkind.test' });
    const posted = Date.now();
    const info = await lmtp.sendMail({
      from: members[0],
      to: list,
      subject: `fan-out ${token}`,
      text: 'one post, three copies\n',
      headers: { 'X-Mailkind-Run': run },
    });
    expect(info.accepted).toEqual([list]);

    // Mailman sends one transaction per batch of up to max_recipients; collect until all are covered.
    const deadline = Date.now() + 15_000;
    let messages: SinkMessage[] = [];
    const covered = (): Set<string> => new Set(messages.flatMap((x) => x.rcptTo));
    for (;;) {
      messages = (await api<{ messages: SinkMessage[] }>(s, `/api/messages?run=${run}`)).body.messages;
      if (covered().size >= members.length || Date.now() > deadline) break;
      const timeoutMs = Math.max(1, deadline - Date.now());
      await api(s, `/api/messages/wait?run=${run}&count=${messages.length + 1}&timeoutMs=${timeoutMs}`);
    }
    const diagnostics = `sink: ${JSON.stringify(messages)}\nheld: ${JSON.stringify((await m.rest(`/3.1/lists/${listId}/held`)).body)}\n${m.logs()}`;
    expect([...covered()].sort(), diagnostics).toEqual(members);
    for (const msg of messages) {
      expect(msg.mailFrom).toBe(`team-bounces@${domain}`);
      expect(msg.listId).toContain(`<${listId}>`);
      expect(msg.subject).toBe(`[Team] fan-out ${token}`);
    }
    const latency = Math.max(...messages.map((x) => Date.parse(x.receivedAt))) - posted;
    console.log(`mailman fan-out: ${members.length} members in ${messages.length} transaction(s), ${latency} ms from LMTP to sink`);
    expect(latency).toBeLessThan(5_000);
    // nothing else reached the relay: no welcome mail, no held-message notices
    const all = (await api<{ messages: SinkMessage[] }>(s, '/api/messages')).body.messages;
    expect(all.filter((x) => x.run !== run)).toEqual([]);
  }, 30_000);
});

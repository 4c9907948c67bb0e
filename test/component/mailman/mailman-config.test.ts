// Real GNU Mailman 3.3.10 (the version maxking/mailman-core:0.5.2 runs) with the project's
// manifests/base/policy/mailman/mailman-extra.cfg appended to an entrypoint-style config: it starts,
// the fragment's settings are the ones in force, and a post over LMTP fans out to every member
// through the outbound SMTP relay (here the project's sink, in the cluster KumoMTA).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { ClientError } from '../../../scripts/lib/clients/http.js';
import { MailmanRest, listIdOf } from '../../../scripts/lib/clients/mailman-rest.js';
import { SinkClient } from '../../../scripts/lib/clients/sink-client.js';
import {
  MAILMAN_FRAGMENT,
  MAILMAN_MISSING,
  lmtpHello,
  mailmanAvailable,
  startMailman,
  type RunningMailman,
} from '../../helpers/mailman.js';
import { skipWithout } from '../../helpers/prerequisites.js';
import { startTestSink } from '../../helpers/sink.js';

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

const noMailman = skipWithout(
  mailmanAvailable() ? undefined : { what: 'test/component/mailman (real GNU Mailman 3.3.10)', reason: MAILMAN_MISSING, fix: 'bash scripts/provision/mailman.sh' },
);

describe.skipIf(noMailman)('Mailman 3.3.10 with manifests/base/policy/mailman/mailman-extra.cfg', () => {
  const fragment = parseCfg(readFileSync(MAILMAN_FRAGMENT, 'utf8'));
  let sink: RunningSink | undefined;
  let mm: RunningMailman | undefined;
  const started = (): RunningMailman => {
    if (!mm) throw new Error('Mailman did not start');
    return mm;
  };
  /** scripts/lib/clients/mailman-rest.ts with the generated credentials */
  const rest = (password = started().restPassword): MailmanRest =>
    new MailmanRest({ baseUrl: started().restUrl, username: started().restUser, password });

  beforeAll(async () => {
    sink = await startTestSink();
    // Mailman's runners are a dozen Python processes importing heavy modules: beside the cluster
    // and docker tiers on two cores they take minutes to answer. A deadline for a condition, not a
    // speed gate (the start-up time is printed by the helper's error when it is exceeded).
    mm = await startMailman({ smtpHost: '127.0.0.1', smtpPort: sink.smtpPort, readyTimeoutMs: 240_000 });
  }, 260_000);

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
    // through the project's clients (scripts/lib/clients), which the e2e suite uses the same way
    const client = rest();
    const sinkClient = new SinkClient(sink!.url);
    const run = `mailman-${randomUUID()}`;
    const domain = 'lists.mailkind.test';
    const list = `team@${domain}`;
    const listId = listIdOf(list);
    const members = ['alice@members.mailkind.test', 'bob@members.mailkind.test', 'carol@members.mailkind.test'];

    expect((await client.createDomain(domain)).mail_host).toBe(domain);
    expect((await client.createList(list)).list_id).toBe(listId);
    // pre_verified, pre_confirmed, pre_approved and no welcome mail: the client's defaults
    for (const subscriber of members) expect((await client.subscribe(listId, subscriber)).email).toBe(subscriber);
    expect((await client.members(listId)).map((m) => m.email).sort()).toEqual(members);

    // From a member, with a Subject and the list in To: accepted by a list with default settings.
    const token = randomUUID();
    const lmtp = nodemailer.createTransport({ host: '127.0.0.1', port: started().lmtpPort, lmtp: true, ignoreTLS: true, name: 'client.mailkind.test' });
    const posted = Date.now();
    const info = await lmtp.sendMail({
      from: members[0],
      to: list,
      subject: `fan-out ${token}`,
      text: 'one post, three copies\n',
      headers: { 'X-Mailkind-Run': run },
    });
    expect(info.accepted).toEqual([list]);

    // Mailman sends one transaction per batch of up to max_recipients: wait for recipients, not messages
    const got = await sinkClient.waitForRecipients(run, members, 15_000);
    const diagnostics = `sink: ${JSON.stringify(got.messages)}\nheld: ${JSON.stringify(await client.held(listId))}\n${started().logs()}`;
    expect(got.missing, diagnostics).toEqual([]);
    expect(got.messages.flatMap((x) => x.rcptTo).sort(), 'one copy per member').toEqual(members);
    for (const msg of got.messages) {
      expect(msg.mailFrom).toBe(`team-bounces@${domain}`);
      expect(msg.listId).toContain(`<${listId}>`);
      expect(msg.subject).toBe(`[Team] fan-out ${token}`);
    }
    // a figure, not a gate: the runners' 0.1 s sleep_time (checked above) is what keeps this short
    const latency = Math.max(...got.messages.map((x) => Date.parse(x.receivedAt))) - posted;
    console.log(`mailman fan-out: ${members.length} members in ${got.messages.length} transaction(s), ${latency} ms from LMTP to sink`);
    // nothing else reached the relay: no welcome mail, no held-message notices
    const all = (await sinkClient.messages()).messages;
    expect(all.filter((x) => x.run !== run)).toEqual([]);
  }, 30_000);
  describe('scripts/lib/clients/mailman-rest.ts', () => {
    // a domain of its own: the fan-out test above owns lists.mailkind.test
    const domain = 'clients.mailkind.test';

    it('versions with the right credentials; an auth error naming the user, never the password, with wrong ones', async () => {
      expect((await rest().versions()).mailman_version).toMatch(/^GNU Mailman 3\.3\.10 /);
      const e = await rest('wrong-password-123').versions().then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(ClientError);
      expect(e).toMatchObject({ kind: 'auth', status: 401 });
      expect((e as ClientError).message).toContain(started().restUser);
      expect((e as ClientError).message).not.toContain('wrong-password-123');
      expect(() => new MailmanRest({ baseUrl: started().restUrl, username: 'u', password: '' })).toThrow(/needs a username and a password/);
    });

    it('domains: create, get, ensure (idempotent), duplicate refused, delete', async () => {
      const c = rest();
      expect(await c.getDomain(domain)).toBeNull();
      expect((await c.createDomain(domain, 'client tests')).mail_host).toBe(domain);
      expect((await c.getDomain(domain))?.description).toBe('client tests');
      expect((await c.ensureDomain(domain)).mail_host).toBe(domain);
      await expect(c.createDomain(domain)).rejects.toMatchObject({ kind: 'input', status: 400, message: expect.stringMatching(/Duplicate email host/) as unknown });
      expect(await c.deleteDomain(domain)).toBe(true);
      expect(await c.deleteDomain(domain)).toBe(false);
      expect((await c.ensureDomain(domain)).mail_host).toBe(domain);
    });

    it('lists: create, get by id and address, settings, members, unsubscribe, delete', async () => {
      const c = rest();
      await c.ensureDomain(domain);
      const list = `crud@${domain}`;
      const created = await c.createList(list);
      expect(created).toMatchObject({ list_id: `crud.${domain}`, fqdn_listname: list, member_count: 0 });
      expect((await c.getList(list))?.list_id).toBe(created.list_id);
      await expect(c.createList(list)).rejects.toMatchObject({ kind: 'input', status: 400 });

      await c.patchListConfig(created.list_id, { default_nonmember_action: 'accept', send_welcome_message: false, subject_prefix: '[crud] ' });
      expect(await c.listConfig(created.list_id)).toMatchObject({ default_nonmember_action: 'accept', send_welcome_message: false, subject_prefix: '[crud] ' });
      await expect(c.patchListConfig(created.list_id, { posting_address: 'x@y.test' })).rejects.toMatchObject({ kind: 'input', status: 400 });

      const alice = await c.subscribe(created.list_id, 'alice@members.mailkind.test', { displayName: 'Alice' });
      expect(alice).toMatchObject({ email: 'alice@members.mailkind.test', role: 'member', list_id: created.list_id });
      await c.subscribe(list, 'bob@members.mailkind.test');
      await expect(c.subscribe(list, 'bob@members.mailkind.test')).rejects.toMatchObject({ status: 409 });
      expect((await c.members(created.list_id)).map((m) => m.email).sort()).toEqual(['alice@members.mailkind.test', 'bob@members.mailkind.test']);
      expect(await c.unsubscribe(alice.member_id)).toBe(true);
      expect((await c.members(created.list_id)).map((m) => m.email)).toEqual(['bob@members.mailkind.test']);
      expect(await c.members(created.list_id, 'owner')).toEqual([]);

      expect(await c.deleteList(created.list_id)).toBe(true);
      expect(await c.getList(created.list_id)).toBeNull();
      expect(await c.deleteList(created.list_id)).toBe(false);
    });

    it('held messages: a non-member post is held, listed with its reason, and discarded', async () => {
      const c = rest();
      await c.ensureDomain(domain);
      const list = `held@${domain}`;
      const { list_id: listId } = await c.createList(list);
      // defaults hold non-member posts; no notices to the owner or the poster (they would reach the sink)
      await c.patchListConfig(listId, { admin_immed_notify: false, respond_to_post_requests: false });
      const lmtp = nodemailer.createTransport({ host: '127.0.0.1', port: started().lmtpPort, lmtp: true, ignoreTLS: true });
      const token = randomUUID();
      const sent = await lmtp.sendMail({ from: 'stranger@elsewhere.test', to: list, subject: `held ${token}`, text: 'hold me\n' });
      // the hold chain logs "HOLD: <list> post from <sender> held, message-id=<id>: <reasons>"
      // (mailman/chains/hold.py) when it has held the message: wait for that line, not a guess
      const escaped = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      await started().waitForLog(new RegExp(`HOLD: ${escaped(list)} post from stranger@elsewhere\\.test held, message-id=${escaped(sent.messageId)}`));
      // the runner commits right after it logs (mailman/core/runner.py, after each message): the
      // REST view may trail the log line by that commit
      await expect.poll(() => c.held(listId), { timeout: 5_000 }).toHaveLength(1);
      const held = await c.held(listId);
      expect(held).toHaveLength(1);
      expect(held[0]).toMatchObject({ sender: 'stranger@elsewhere.test', subject: `held ${token}` });
      expect(held[0]?.reason).toMatch(/not from a list member/);
      await c.moderate(listId, held[0]!.request_id, 'discard');
      expect(await c.held(listId)).toEqual([]);
      await c.deleteList(listId);
    });

    it('bad input never reaches Mailman', () => {
      expect(() => listIdOf('no-at-sign')).toThrow(/not a list address/);
      expect(() => listIdOf('a@b@c')).toThrow(/not a list address/);
      expect(listIdOf('Team@Lists.Example.Test')).toBe('team.lists.example.test');
      expect(() => new MailmanRest({ baseUrl: 'http://u:p@127.0.0.1:1', username: 'u', password: 'p' })).toThrow(/must not contain credentials/);
    });
  });
});

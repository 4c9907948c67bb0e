// Scenario 5: Mailman fan-out. Over REST: the list domain (kept; other runs share it) and a list
// of this run, posts from non-members accepted, K members subscribed with no confirmation or
// welcome mail. A post to the list through the inbound listener (2525) goes kumod -> LMTP ->
// Mailman -> SMTP relay (2587) -> kumod -> sink: K copies, one per member, from the list's
// bounces address, with its List-Id. The list is deleted afterwards, passed or failed.
// KumoMTA's own account (journey API): the post delivered once, over LMTP to mailman-core, and each
// member's copy received from Mailman and delivered once, joined to the post by its Message-ID.
import { describe, expect } from 'vitest';
import { listIdOf } from '../../scripts/lib/clients/mailman-rest.js';
import { POLICY } from './lib/config.js';
import { emptyJourney, journeyWhen, kumoKinds, listProblems } from './lib/journey.js';
import { addresses, smtpSend } from './lib/mail.js';
import { expectNoMore, scenario, step, suite } from './lib/suite.js';

describe('5. Mailman fan-out', () => {
  const skip = suite().mailman ? false : `profile ${suite().cfg.profile} runs no Mailman`;
  scenario('a post through 2525 reaches every member once, from the list, with its List-Id', { slug: 'mailman', components: ['kumomta', 'mailman-core', 'smtp-sink'], skip }, async ({ cfg, mailman, sink, run, cleanup, note }) => {
    const mm = mailman;
    if (!mm) throw new Error('no Mailman client');
    const name = run.replace(/[^a-z0-9-]/g, '-');
    const list = `${name}@${POLICY.listDomain}`;
    const listId = listIdOf(list);
    const members = addresses('member', run, POLICY.sinkDomain, cfg.sizes.listMembers);

    await step(cfg, 'mailman', async () => {
      await mm.ensureDomain(POLICY.listDomain);
      cleanup(`list ${list}`, () => mm.deleteList(listId));
      await mm.createList(list);
      // the poster is not a member (members would also get their own post back); no owner mail
      await mm.patchListConfig(listId, { default_nonmember_action: 'accept', send_welcome_message: false, admin_immed_notify: false });
      for (const m of members) await mm.subscribe(listId, m);
    });
    expect((await mm.members(listId)).map((m) => m.email).sort()).toEqual([...members].sort());

    const poster = `poster+${run}@elsewhere.test`;
    const sent = await step(cfg, 'inject', () =>
      smtpSend({ host: cfg.smtpHost, port: cfg.ports.kumoInbound, from: poster, to: [list], subject: `e2e fan-out ${run}`, text: 'one post, one copy per member\n', run }),
    );
    expect(sent.accepted).toEqual([list]);

    const got = await step(cfg, 'mailman', (ms) => sink.waitForRecipients(run, members, ms));
    if (!got.complete) note(`held messages of ${listId}: ${JSON.stringify(await mm.held(listId).catch((e: Error) => e.message))}`);
    expect(got.missing, 'members without a copy').toEqual([]);
    await expectNoMore(cfg, sink, run, members.length);
    const copies = got.messages.flatMap((m) => m.rcptTo.map((r) => ({ r: r.toLowerCase(), m })));
    expect(copies.map((c) => c.r).sort(), 'exactly one copy per member').toEqual(members.map((m) => m.toLowerCase()).sort());
    for (const { m } of copies) {
      expect(m.mailFrom).toBe(`${name}-bounces@${POLICY.listDomain}`);
      expect(m.listId).toContain(`<${listId}>`);
      expect(m.messageId, 'Mailman keeps the Message-ID').toBe(sent.messageId);
      expect(m.subject).toContain(`e2e fan-out ${run}`);
    }
    expect(await mm.held(listId), 'nothing held for moderation').toEqual([]);

    const journey = await step(cfg, 'journey', (ms) =>
      journeyWhen(sink, sent.messageId, (j) => kumoKinds(j, list).includes('Delivery') && members.every((m) => kumoKinds(j, m).includes('Delivery')), ms),
    );
    expect(listProblems(journey ?? emptyJourney(sent.messageId), list, members), 'kumod: one LMTP delivery of the post, one delivery per member').toEqual([]);
  });
});

// Scenario 4: not an open relay. The inbound listener (host port 2525) refuses a recipient outside
// the list domain with 550 5.7.1: a client from the host is not in relay_hosts (loopback only) and
// the domain has no relay_to, so kumod's own relay check answers "5.7.1 relaying not permitted"
// before any policy hook runs (crates/kumod/src/smtp_server.rs check_relaying, ahead of the
// smtp_server_rcpt_to event). init.lua's smtp_server_rcpt_to refusal is the second line, for a
// client that may relay (loopback inside the pod). One in lists.mailkind.test is accepted
// (get_listener_domain relay_to). The accepted RCPT is reset before DATA, so
// nothing is sent to Mailman. A full nodemailer submission to a sink domain is refused too, and
// nothing of the run reaches the sink (checked after a control message of the run, relayed on 2587
// after the refusals, has arrived).
import { describe, expect } from 'vitest';
import { RawSmtp } from '../helpers/smtp-client.js';
import { POLICY } from './lib/config.js';
import { address, smtpSend } from './lib/mail.js';
import { scenario, step } from './lib/suite.js';

describe('4. Not an open relay', () => {
  scenario('port 2525 refuses a non-list domain and accepts the list domain', { slug: 'open-relay', components: ['kumomta', 'smtp-sink'] }, async ({ cfg, sink, run }) => {
    const outside = address('outside', run, POLICY.sinkDomain);
    const listAddress = `nosuchlist-${run}@${POLICY.listDomain}`;

    // the whole session under the step's deadline: RawSmtp has no timeouts of its own, so a
    // listener that accepts and never answers would otherwise hang until the test backstop
    let session: RawSmtp | undefined;
    try {
      await step(cfg, 'inject', async () => {
        const c = (session = await RawSmtp.connect(cfg.ports.kumoInbound, cfg.smtpHost));
        expect((await c.reply())?.code, 'greeting').toBe(220);
        expect((await c.command('EHLO e2e.mailkind.test'))?.code).toBe(250);
        expect((await c.command(`MAIL FROM:<sender+${run}@elsewhere.test>`))?.code).toBe(250);
        const refused = await c.command(`RCPT TO:<${outside}>`);
        expect(refused?.code, `RCPT to ${outside}: ${refused?.text}`).toBe(550);
        expect(refused?.text).toMatch(/5\.7\.1/);
        const accepted = await c.command(`RCPT TO:<${listAddress}>`);
        expect(accepted?.code, `RCPT to ${listAddress}: ${accepted?.text}`).toBe(250);
        expect((await c.command('RSET'))?.code).toBe(250);
        await c.command('QUIT');
      });
    } finally {
      // also when the step's deadline passed with a reply still awaited
      session?.destroy();
    }

    // the same with a real client and a whole message
    const submission = await smtpSend({ host: cfg.smtpHost, port: cfg.ports.kumoInbound, from: `sender+${run}@elsewhere.test`, to: [outside], subject: `e2e open relay ${run}`, text: 'must not be relayed\n', run }).then(
      () => null,
      (e: Error & { responseCode?: number }) => e,
    );
    expect(submission, 'nodemailer submission to a non-list domain on 2525').not.toBeNull();
    expect(submission?.responseCode).toBe(550);

    const control = await step(cfg, 'inject', () =>
      smtpSend({ host: cfg.smtpHost, port: cfg.ports.kumoRelay, from: `sender+${run}@${POLICY.sinkDomain}`, to: [address('control', run, POLICY.sinkDomain)], subject: `e2e control ${run}`, text: 'control\n', run }),
    );
    const waited = await step(cfg, 'deliver', (ms) => sink.waitForCount(run, 1, ms));
    expect(waited.reached, 'the control message arrived').toBe(true);
    const { total, messages } = await sink.messages({ run });
    expect(total, 'messages of the run: the control message only').toBe(1);
    expect(messages[0]?.messageId).toBe(control.messageId);
    expect(await sink.attempts({ rcpt: outside }), `no attempt for ${outside}`).toEqual([]);
  });
});

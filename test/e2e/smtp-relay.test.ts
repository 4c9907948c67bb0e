// Scenario 2: SMTP relay. nodemailer submits to the relay listener (host port 2587, which arrives
// at kumod from the node's address inside RELAY_NETWORKS) -> delivered to the sink, and the sink saw
// KumoMTA use STARTTLS (egress enable_tls OpportunisticInsecure against the sink's self-signed
// certificate, init.lua).
import { describe, expect } from 'vitest';
import { POLICY } from './lib/config.js';
import { address, kumodByIp, smtpSend } from './lib/mail.js';
import { plainIp } from './lib/measure.js';
import { scenario, step } from './lib/suite.js';

describe('2. SMTP relay', () => {
  scenario('a message relayed on 2587 reaches the sink over STARTTLS', { slug: 'relay', components: ['kumomta', 'smtp-sink'] }, async ({ cfg, sink, cluster, run }) => {
    const to = address('relay', run, POLICY.sinkDomain);
    const sent = await step(cfg, 'inject', () =>
      smtpSend({ host: cfg.smtpHost, port: cfg.ports.kumoRelay, from: `sender+${run}@${POLICY.sinkDomain}`, to: [to], subject: `e2e relay ${run}`, text: 'scenario 2\n', run }),
    );
    expect(sent.accepted).toEqual([to]);

    const waited = await step(cfg, 'deliver', (ms) => sink.waitForCount(run, 1, ms));
    expect(waited.reached, `sink has ${waited.count} messages of the run`).toBe(true);
    const [m] = (await sink.messages({ run })).messages;
    expect(m).toBeDefined();
    expect(m?.messageId).toBe(sent.messageId);
    expect(m?.rcptTo).toEqual([to]);
    expect(m?.tls, 'KumoMTA -> sink used STARTTLS').toBe(true);
    expect(m?.tlsProtocol).toMatch(/^TLSv1\.[23]$/);
    // delivered by one of the kumod pods, not by something else talking to the sink
    const kumod = await kumodByIp(cluster);
    expect([...kumod.keys()], 'the sink peer is a kumomta pod').toContain(plainIp(m?.clientAddress ?? ''));
  });
});

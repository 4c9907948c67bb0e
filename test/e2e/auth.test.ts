// Scenario 3: injection needs credentials. No Authorization header, and a wrong password -> 401
// (kumod's ACL: only loopback is trusted, init.lua; crates/kumo-server-common/src/http_server/auth.rs
// answers 401 "... not permitted POST ..." and "HttpBasicAuth Authentication Failed for <user>").
// Nothing delivered: a refused request is never spooled, so after a control message of the same
// run has arrived (it was sent after both refusals) the run must hold that message only.
import { describe, expect } from 'vitest';
import { ClientError } from '../../scripts/lib/clients/http.js';
import { inject, type InjectMessage } from '../../scripts/lib/clients/kumo-inject.js';
import { POLICY } from './lib/config.js';
import { address } from './lib/mail.js';
import { scenario, step } from './lib/suite.js';

async function refusal(p: Promise<unknown>): Promise<ClientError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  if (e === null) {
    // kumod's default ACL lets a trusted host inject without credentials, and init.lua trusts
    // loopback: a kubectl port-forward reaches the pod from 127.0.0.1, a NodePort does not
    throw new Error('kumod accepted the injection: the connection reached kumod from a trusted host (loopback, e.g. through kubectl port-forward); test through the NodePort or an address kumod does not trust');
  }
  if (!(e instanceof ClientError)) throw new Error(`expected a ClientError, got ${(e as Error).message}`);
  return e;
}

describe('3. Injection auth', () => {
  scenario('no credentials and a wrong password get 401, and nothing is delivered', { slug: 'auth', components: ['kumomta', 'smtp-sink'] }, async ({ cfg, kumo, sink, run }) => {
    const msg = (tag: string): InjectMessage => ({
      from: `sender+${run}@${POLICY.sinkDomain}`,
      recipients: [address(`auth-${tag}`, run, POLICY.sinkDomain)],
      subject: `e2e auth ${tag} ${run}`,
      text: 'scenario 3\n',
      run,
    });
    const timeoutMs = cfg.timeouts.inject;

    const anonymous = await refusal(inject({ baseUrl: kumo.baseUrl }, msg('anonymous'), { timeoutMs }));
    expect(anonymous.kind, anonymous.message).toBe('auth');
    expect(anonymous.status).toBe(401);

    const wrong = await refusal(inject({ ...kumo, password: `${kumo.password ?? ''}-wrong` }, msg('wrong-password'), { timeoutMs }));
    expect(wrong.kind, wrong.message).toBe('auth');
    expect(wrong.status).toBe(401);
    expect(wrong.details.body).toMatch(/Authentication Failed|not permitted/);
    // the answer names the user at most, never the password
    expect(wrong.message).not.toContain(kumo.password);

    const control = await step(cfg, 'inject', (ms) => inject(kumo, msg('control'), { timeoutMs: ms }));
    expect(control.successCount).toBe(1);
    const waited = await step(cfg, 'deliver', (ms) => sink.waitForCount(run, 1, ms));
    expect(waited.reached, 'the control message arrived').toBe(true);
    const { total, messages } = await sink.messages({ run });
    expect(total, 'messages of the run: the control message only').toBe(1);
    expect(messages[0]?.messageId).toBe(control.messageIds[0]);
    expect(await sink.attempts({ run }), 'no attempt for the refused requests').toHaveLength(1);
  });
});

// The diagnostics collector of the e2e suite with a fake kubectl that records its arguments, and a
// real sink holding a run's messages and refused attempts.
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SinkClient } from '../../../scripts/lib/clients/sink-client.js';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { Cluster } from '../../e2e/lib/cluster.js';
import { collectDiagnostics } from '../../e2e/lib/diagnostics.js';
import { startTestSink } from '../../helpers/sink.js';
import { fakeKubectl, type FakeKubectl } from './fake-kubectl.js';

let kubectl: FakeKubectl;
let sink: RunningSink;

beforeAll(async () => {
  kubectl = fakeKubectl([
    { when: ['get', 'events'], stdout: Array.from({ length: 50 }, (_, i) => `event line ${i}`).join('\n') + '\n' },
    { when: ['get', 'pods', 'wide'], stdout: 'NAME        READY   STATUS\nkumomta-0   1/1     Running\n' },
    { when: ['describe', 'app.kubernetes.io/name=kumomta'], stdout: 'Name: kumomta-0\nEvents: <none>\n' },
    { when: ['describe', 'app.kubernetes.io/name=smtp-sink'], stderr: 'error: You must be logged in to the server (Unauthorized)\n', exit: 1 },
    { when: ['logs'], stdout: '[pod/kumomta-0/kumod] {"type":"Delivery"}\n' },
  ]);
  sink = await startTestSink();
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: sink.smtpPort, tls: { rejectUnauthorized: false } });
  await t.sendMail({ from: 's@x.test', to: 'ok@x.test', subject: 'a', text: 'a', messageId: '<diag-1@x.test>', headers: { 'X-Mailkind-Run': 'diag-run' } });
  await t.sendMail({ from: 's@x.test', to: 'permfail@x.test', subject: 'b', text: 'b', messageId: '<diag-2@x.test>', headers: { 'X-Mailkind-Run': 'diag-run' } }).catch(() => undefined);
  t.close();
});
afterAll(async () => {
  kubectl.remove();
  await sink.close();
});

describe('collectDiagnostics', () => {
  it('collects events, pods, descriptions and logs per component, and the sink view of the run', async () => {
    const cluster = new Cluster({ kubectl: kubectl.path, context: 'kind-test', namespace: 'ns1' });
    const text = await collectDiagnostics(cluster, { components: ['kumomta', 'smtp-sink'], sink: new SinkClient(sink.url), run: 'diag-run', tail: 25 });

    const calls = kubectl.calls().map((c) => c.filter((a) => !a.startsWith('--request-timeout=')));
    const expected = [
      ['--context', 'kind-test', '-n', 'ns1', 'get', 'events', '--sort-by=.lastTimestamp'],
      ['--context', 'kind-test', '-n', 'ns1', 'get', 'pods', '-o', 'wide'],
      ['--context', 'kind-test', '-n', 'ns1', 'describe', 'pods', '-l', 'app.kubernetes.io/name=kumomta'],
      ['--context', 'kind-test', '-n', 'ns1', 'logs', '-l', 'app.kubernetes.io/name=kumomta', '--all-containers', '--prefix', '--tail=25', '--max-log-requests=10'],
      ['--context', 'kind-test', '-n', 'ns1', 'describe', 'pods', '-l', 'app.kubernetes.io/name=smtp-sink'],
      ['--context', 'kind-test', '-n', 'ns1', 'logs', '-l', 'app.kubernetes.io/name=smtp-sink', '--all-containers', '--prefix', '--tail=25', '--max-log-requests=10'],
    ];
    expect(calls.sort()).toEqual(expected.sort());

    // the last 30 events only, most recent last
    expect(text).toContain('event line 49');
    expect(text).toContain('event line 20');
    expect(text).not.toContain('event line 19\n');
    expect(text).toContain('kumomta-0   1/1     Running');
    expect(text).toContain('----- describe pods -l app.kubernetes.io/name=kumomta\nName: kumomta-0');
    // one failing section does not stop the others
    expect(text).toMatch(/----- describe pods -l app.kubernetes.io\/name=smtp-sink\n\(could not collect: .*Unauthorized\)/);
    expect(text).toContain('[pod/kumomta-0/kumod] {"type":"Delivery"}');
    // the sink: stats, the refused and accepted attempts of the run, its messages
    expect(text).toMatch(/----- sink stats\n\{\n {2}"accepted": 1,/);
    expect(text).toMatch(/data 250 attempt 1 from \S+ to ok@x\.test diag-1@x\.test/);
    expect(text).toMatch(/data 550 attempt 1 from \S+ to permfail@x\.test diag-2@x\.test local:permfail/);
    // the journeys of the run's messages, as npm run trace prints them
    expect(text).toMatch(/----- journeys of run diag-run \(first 20 messages\)\nmessage <diag-1@x\.test> {2}run diag-run/);
    expect(text).toMatch(/to permfail@x\.test: REFUSED by the sink \(1 refusal at the sink\)/);
    expect(text).toMatch(/----- sink messages of run diag-run \(newest 20\)\ntotal 1\n\S+ diag-1@x\.test s@x\.test -> ok@x\.test tls=true/);
  });

  it('without a cluster or sink: every section says why it is empty, nothing throws', async () => {
    const cluster = new Cluster({ kubectl: '/nonexistent/kubectl', context: 'c', namespace: 'n' });
    const text = await collectDiagnostics(cluster, { components: ['kumomta'], sink: new SinkClient('http://127.0.0.1:9', { timeoutMs: 1_000 }), run: 'r' });
    expect(text.match(/\(could not collect: /g)).toHaveLength(8);
    expect(text).toMatch(/kubectl not found \("\/nonexistent\/kubectl"\)/);
    expect(text).toMatch(/smtp-sink: cannot reach GET http:\/\/127\.0\.0\.1:9\/api\/stats/);
  });
});

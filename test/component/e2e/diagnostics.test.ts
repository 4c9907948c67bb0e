// The diagnostics collector of the e2e suite: the sink's view of a run (a real sink holding a run's
// messages and refused attempts), and every section failing soft when nothing answers. Its
// cluster sections (events, pods, describe, logs) run against a real API server in
// test/cluster/stack.test.ts.
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SinkClient } from '../../../scripts/lib/clients/sink-client.js';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { Cluster } from '../../e2e/lib/cluster.js';
import { collectDiagnostics } from '../../e2e/lib/diagnostics.js';
import { startTestSink } from '../../helpers/sink.js';

let sink: RunningSink;

beforeAll(async () => {
  sink = await startTestSink();
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: sink.smtpPort, tls: { rejectUnauthorized: false } });
  await t.sendMail({ from: 's@x.test', to: 'ok@x.test', subject: 'a', text: 'a', messageId: '<diag-1@x.test>', headers: { 'X-Mailkind-Run': 'diag-run' } });
  await t.sendMail({ from: 's@x.test', to: 'permfail@x.test', subject: 'b', text: 'b', messageId: '<diag-2@x.test>', headers: { 'X-Mailkind-Run': 'diag-run' } }).catch(() => undefined);
  t.close();
});
afterAll(async () => {
  await sink.close();
});

describe('collectDiagnostics', () => {
  it('collects the sink view of the run; cluster sections without a kubectl say why and do not stop the rest', async () => {
    const cluster = new Cluster({ kubectl: '/nonexistent/kubectl', context: 'kind-test', namespace: 'ns1' });
    const text = await collectDiagnostics(cluster, { components: ['kumomta', 'smtp-sink'], sink: new SinkClient(sink.url), run: 'diag-run', tail: 25 });
    expect(text).toMatch(/----- describe pods -l app.kubernetes.io\/name=smtp-sink\n\(could not collect: kubectl not found/);
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

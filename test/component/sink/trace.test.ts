// npm run trace as a real process against a real sink fed with a retried message (real SMTP
// attempts and kumod's records from the documented format): the timeline, --json, exit codes.
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { ROOT } from '../../helpers/fake-tools.js';
import { playRetriedMessage } from '../../helpers/journey-play.js';
import { startTestSink } from '../../helpers/sink.js';
import { tsEntry } from '../../helpers/entry-point.js';

const trace = (args: string[], sinkUrl?: string) =>
  execa(...tsEntry(join(ROOT, 'scripts/trace.ts'), args), { cwd: ROOT, reject: false, env: { ...(sinkUrl ? { MAILKIND_SINK_URL: sinkUrl } : {}), CI: 'true' }, timeout: 30_000 });

let sink: RunningSink;
const MESSAGE_ID = 'retry-demo.1@mailkind.test';
const RUN = 'trace-demo';

beforeAll(async () => {
  sink = await startTestSink();
  const codes = await playRetriedMessage(sink, { messageId: MESSAGE_ID, recipient: 'tempfail-2+demo@example.test', run: RUN, subject: 'Retried twice' });
  expect(codes).toEqual([451, 451, 250]);
});
afterAll(() => sink.close());

describe('npm run trace', () => {
  it('prints the timeline of a message: kumod and the sink, in time order, 24-hour UTC', async () => {
    const r = await trace([`<${MESSAGE_ID}>`], sink.url);
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = String(r.stdout).split('\n');
    expect(lines[0]).toBe(`message <${MESSAGE_ID}>  run ${RUN}  "Retried twice"`);
    expect(lines[1]).toMatch(/^ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} → \d\d:\d\d:\d\d\.\d{3} UTC {3}outcome: delivered$/);
    expect(lines).toContain('  to tempfail-2+demo@example.test: delivered (2 deferrals, 2 refusals at the sink)');
    const steps = lines.filter((l) => /^ {4}\d\d:\d\d:\d\d\.\d{3} /.test(l)).map((l) => l.slice(17, 47).replace(/\s+/g, ' ').trim());
    expect(steps).toEqual(['kumod Reception 250', 'sink Refused 451', 'kumod TransientFailure 451', 'sink Refused 451', 'kumod TransientFailure 451', 'sink Accepted 250', 'kumod Delivery 250']);
  });

  it('by run, and as JSON', async () => {
    // each run of tsx costs seconds on a busy machine: the run and --json in one call
    const json = await trace([RUN, '--json'], sink.url);
    expect(json.exitCode).toBe(0);
    const doc = JSON.parse(String(json.stdout)) as { total: number; journeys: { status: string; timelines: { deferrals: number }[] }[] };
    expect(doc.total).toBe(1);
    expect(doc.journeys[0]).toMatchObject({ status: 'delivered', timelines: [{ deferrals: 2 }] });
  });

  it('exit 1 with cause and fix: unknown message, sink unreachable', async () => {
    const [unknown, down] = await Promise.all([trace(['nobody@nowhere.test'], sink.url), trace([MESSAGE_ID], 'http://127.0.0.1:9')]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toMatch(/^error: the sink knows no message with Message-ID nobody@nowhere\.test\n {2}fix: /);
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toMatch(/^error: cannot reach the sink at http:\/\/127\.0\.0\.1:9: .*\n {2}fix: start the stack \(npm run up\) or a local sink/);
    expect(down.stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  it('exit 2 on bad usage', async () => {
    const r = await trace([MESSAGE_ID, '--run', '--message-id'], sink.url);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^error: --run and --message-id exclude each other\n {2}fix: /);
  });
});

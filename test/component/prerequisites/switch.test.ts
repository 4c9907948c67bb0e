// The skip machinery itself (test/helpers/prerequisites.ts and skip-reporter.ts), through a nested
// vitest on a fixture with one missing prerequisite, one fallback and one claim found unproven in
// the middle of a test: friendly skips with the reasons at the end on a laptop, and failures, not
// skips, under MAILKIND_REQUIRE_ALL=1 (what .ci/run sets).
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/fake-tools.js';

const tmp = mkdtempSync(join(tmpdir(), 'mailkind-switch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface JsonReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  testResults: { assertionResults: { title: string; status: string }[] }[];
}

async function nested(requireAll: boolean) {
  const name = requireAll ? 'strict' : 'friendly';
  const report = join(tmp, `${name}.json`);
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmp, MAILKIND_MISSES_FILE: join(tmp, `${name}-misses.jsonl`) };
  if (requireAll) env.MAILKIND_REQUIRE_ALL = '1';
  const r = await execa(join(ROOT, 'node_modules/.bin/vitest'), ['run', '--config', 'test/fixtures/prerequisites/vitest.config.ts', '--outputFile', report], { cwd: ROOT, env, extendEnv: false, reject: false, all: true });
  const json = JSON.parse(readFileSync(report, 'utf8')) as JsonReport;
  const status = Object.fromEntries(json.testResults.flatMap((f) => f.assertionResults.map((a) => [a.title, a.status])));
  return { exitCode: r.exitCode, out: r.all, json, status };
}

describe('prerequisites: skip with the reasons at the end, or fail under MAILKIND_REQUIRE_ALL', () => {
  it('on a laptop: green, the tests that could not run counted as skipped, every reason repeated after the summary', async () => {
    const r = await nested(false);
    expect(r.exitCode, r.out).toBe(0);
    expect(r.status).toEqual({
      'uses the tool': 'skipped',
      'uses the tool again': 'skipped',
      'runs with whatever tool is there': 'passed',
      'claims two replicas': 'skipped',
      'needs nothing': 'passed',
    });
    expect(r.json.numPendingTests).toBe(3);
    expect(r.out).toContain('Skipped: 3 test(s), 0 whole file(s) (the "skipped" counts above), in:\n  - test/fixtures/prerequisites/misses.fixture.ts: 3');
    expect(r.out).toContain('Prerequisites missing on this machine (3); their tests did not run or checked less:');
    expect(r.out).toContain('  - fixture: needs-a-tool: no-such-tool not found\n      fix: install no-such-tool');
    expect(r.out).toContain('  - fixture: other-version (checked less): tool 2 instead of the pinned 1\n      fix: provision tool 1');
    expect(r.out).toContain('  - fixture: two-replicas (checked less): one replica\n      fix: run two');
  });

  it('with MAILKIND_REQUIRE_ALL=1: every miss, fallback and unproven claim is a failing test, and the run fails', async () => {
    const r = await nested(true);
    expect(r.exitCode, r.out).toBe(1);
    expect(r.status).toEqual({
      'prerequisite: fixture: needs-a-tool': 'failed',
      'uses the tool': 'skipped',
      'uses the tool again': 'skipped',
      'prerequisite: fixture: other-version': 'failed',
      'runs with whatever tool is there': 'passed',
      'claims two replicas': 'failed',
      'needs nothing': 'passed',
    });
    expect(r.json.numFailedTests).toBe(3);
  });
});

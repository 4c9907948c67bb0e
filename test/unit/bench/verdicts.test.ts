// The benchmark's pure logic: results -> table rows, verdicts and text (bench/lib/verdicts.ts),
// its command line and plan (bench/lib/options.ts) and CPU accounting. No servers are started here.
import { describe, expect, it } from 'vitest';
import { benchHelp, makePlan, parseBenchArgs, USAGE, UsageError } from '../../../bench/lib/options.js';
import { cpuBetween } from '../../../bench/lib/procs.js';
import { smtpSourceArgs } from '../../../bench/lib/smtp-source.js';
import {
  buildRows,
  formatInt,
  formatReport,
  formatTable,
  formatVerdicts,
  ISSUE_TARGETS,
  MIB,
  median,
  noiseWarning,
  rate,
  summarize,
  type BenchInput,
  type MemoryResult,
  type Mode,
  type PeerId,
  type RunResult,
  type Verdict,
} from '../../../bench/lib/verdicts.js';

const names: Record<PeerId, string> = { ours: 'ours', postfix: 'postfix smtp-sink', maildev: 'maildev 2.2.1' };

/** A run sending `messages` at exactly `msgPerSec`; ours' accepted counter exact unless given. */
function run(peer: PeerId, mode: Mode, round: number, msgPerSec: number, extra: Partial<RunResult> = {}): RunResult {
  const messages = extra.messages ?? 10_000;
  return {
    peer,
    mode,
    round,
    messages,
    wallMs: (messages / msgPerSec) * 1000,
    cpu: { serverCores: 0.9, sourceCores: 0.5, machineCores: 1.5, otherCores: 0.1, stealCores: 0 },
    ...(peer === 'ours' ? { accepted: messages } : {}),
    ...extra,
  };
}

const goodMemory: MemoryResult = { messages: 200_000, vmHwmBytes: 120 * MIB, vmRssBytes: 110 * MIB, accepted: 200_000, wallMs: 20_000 };

/** Three rounds per server and mode at the given rates (median = the middle one), plus a warm-up; null: no memory step. */
function input(rates: Partial<Record<`${Mode}:${PeerId}`, [number, number, number]>>, memory: MemoryResult | null = goodMemory): BenchInput {
  const defaults: Record<`${Mode}:${PeerId}`, [number, number, number]> = {
    'reuse:ours': [9_000, 10_000, 11_000],
    'reuse:postfix': [15_000, 20_000, 25_000],
    'reuse:maildev': [2_000, 3_000, 4_000],
    'per-message:ours': [2_500, 3_000, 3_500],
    'per-message:postfix': [5_000, 6_000, 7_000],
    'per-message:maildev': [150, 200, 250],
  };
  const all = { ...defaults, ...rates };
  const runs: RunResult[] = [];
  for (const mode of ['reuse', 'per-message'] as const) {
    for (const peer of ['ours', 'postfix', 'maildev'] as const) runs.push(run(peer, mode, 0, 1, { messages: 100 })); // a very slow warm-up
    for (let round = 1; round <= 3; round++) {
      for (const peer of ['ours', 'postfix', 'maildev'] as const) runs.push(run(peer, mode, round, all[`${mode}:${peer}`][round - 1] ?? 0));
    }
  }
  return memory ? { runs, memory, names, targets: ISSUE_TARGETS } : { runs, names, targets: ISSUE_TARGETS };
}

function verdict(verdicts: Verdict[], id: string): Verdict {
  const v = verdicts.find((x) => x.id === id);
  if (!v) throw new Error(`no verdict ${id}`);
  return v;
}

describe('bench statistics', () => {
  it('takes the median of odd and even counts, nothing for none', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeUndefined();
  });
  it('computes msg/s from messages and wall milliseconds', () => {
    expect(rate(40_000, 4_000)).toBe(10_000);
    expect(rate(10, 0)).toBe(0);
  });
  it('formats whole numbers with thousands separators', () => {
    expect(formatInt(1234567.4)).toBe('1,234,567');
    expect(formatInt(999)).toBe('999');
  });
});

describe('bench rows', () => {
  it('gives one row per server and mode, ignoring warm-ups, with median, best, worst and ours ÷ this', () => {
    const rows = buildRows(input({}));
    expect(rows.map((r) => `${r.mode}:${r.peer}`)).toEqual([
      'reuse:ours',
      'reuse:postfix',
      'reuse:maildev',
      'per-message:ours',
      'per-message:postfix',
      'per-message:maildev',
    ]);
    const postfix = rows[1];
    expect(postfix).toMatchObject({ okRounds: 3, rounds: 3, messages: 10_000, name: 'postfix smtp-sink' });
    expect(postfix?.median).toBeCloseTo(20_000);
    expect(postfix?.best).toBeCloseTo(25_000);
    expect(postfix?.worst).toBeCloseTo(15_000);
    expect(postfix?.spread).toBeCloseTo(0.5);
    expect(postfix?.oursOver).toBeCloseTo(0.5);
    expect(rows[0]?.oursOver).toBeCloseTo(1);
    expect(rows[2]?.oursOver).toBeCloseTo(10_000 / 3_000);
  });
  it('leaves failed rounds out of the statistics and counts them', () => {
    const data = input({});
    const failed = data.runs.find((r) => r.peer === 'postfix' && r.mode === 'reuse' && r.round === 3);
    if (!failed) throw new Error('fixture');
    failed.error = 'exit 1: lost connection';
    const row = buildRows(data).find((r) => r.peer === 'postfix' && r.mode === 'reuse');
    expect(row).toMatchObject({ okRounds: 2, rounds: 3 });
    expect(row?.median).toBeCloseTo(17_500);
  });
  it('shows a server whose every round failed as failed, without a ratio', () => {
    const data = input({});
    for (const r of data.runs) if (r.peer === 'maildev' && r.mode === 'reuse') r.error = 'killed after 120 s';
    const rows = buildRows(data);
    const row = rows.find((r) => r.peer === 'maildev' && r.mode === 'reuse');
    expect(row).toMatchObject({ okRounds: 0, rounds: 3 });
    expect(row?.median).toBeUndefined();
    expect(row?.oursOver).toBeUndefined();
    expect(formatTable(rows)).toMatch(/maildev 2\.2\.1\s+0\/3\s+10,000\s+failed/);
  });
});

describe('bench verdicts', () => {
  it('passes everything when every target is met', () => {
    const s = summarize(input({}));
    expect(s.verdicts.map((v) => [v.id, v.pass])).toEqual([
      ['reuse-rate', true],
      ['reuse-vs-postfix', true],
      ['per-message-rate', true],
      ['reuse-vs-maildev', true],
      ['peak-rss', true],
      ['runs-completed', true],
      ['exact-count', true],
    ]);
    expect(s.ok).toBe(true);
    expect(s.checksOk).toBe(true);
  });
  it('judges mode A on the median, not the best round', () => {
    const s = summarize(input({ 'reuse:ours': [5_000, 7_999, 12_000] }));
    const v = verdict(s.verdicts, 'reuse-rate');
    expect(v.pass).toBe(false);
    expect(v.actual).toContain('7,999 msg/s (median; best 12,000)');
    expect(s.ok).toBe(false);
    expect(s.checksOk).toBe(true);
  });
  it('passes a rate exactly at the target', () => {
    expect(verdict(summarize(input({ 'reuse:ours': [8_000, 8_000, 8_000] })).verdicts, 'reuse-rate').pass).toBe(true);
    expect(verdict(summarize(input({ 'per-message:ours': [2_000, 2_000, 2_000] })).verdicts, 'per-message-rate').pass).toBe(true);
    expect(verdict(summarize(input({ 'per-message:ours': [1_999, 1_999, 1_999] })).verdicts, 'per-message-rate').pass).toBe(false);
  });
  it('needs ours >= 0.4x postfix smtp-sink in mode A', () => {
    const low = verdict(summarize(input({ 'reuse:postfix': [30_000, 30_000, 30_000] })).verdicts, 'reuse-vs-postfix');
    expect(low.pass).toBe(false);
    expect(low.actual).toContain('0.33x');
    const exact = verdict(summarize(input({ 'reuse:postfix': [25_000, 25_000, 25_000] })).verdicts, 'reuse-vs-postfix');
    expect(exact.pass).toBe(true);
    expect(exact.actual).toContain('0.40x (10,000 vs 25,000 msg/s, medians)');
  });
  it('needs ours >= 3x maildev in mode A (mode B maildev does not count)', () => {
    expect(verdict(summarize(input({ 'reuse:maildev': [3_500, 3_500, 3_500] })).verdicts, 'reuse-vs-maildev').pass).toBe(false);
    expect(verdict(summarize(input({ 'per-message:maildev': [9_000, 9_000, 9_000] })).verdicts, 'reuse-vs-maildev').pass).toBe(true);
  });
  it('fails a comparison when the peer has no completed round', () => {
    const data = input({});
    for (const r of data.runs) if (r.peer === 'postfix') r.error = 'exit 1';
    const s = summarize(data);
    expect(verdict(s.verdicts, 'reuse-vs-postfix')).toMatchObject({ pass: false, actual: 'no completed round for ours or the peer' });
    expect(verdict(s.verdicts, 'runs-completed').pass).toBe(false);
    expect(s.checksOk).toBe(false);
  });
  it('holds peak RSS to 150 MiB after 200,000 messages', () => {
    expect(verdict(summarize(input({}, { ...goodMemory, vmHwmBytes: 150 * MIB })).verdicts, 'peak-rss').pass).toBe(true);
    const over = verdict(summarize(input({}, { ...goodMemory, vmHwmBytes: 150 * MIB + 1 })).verdicts, 'peak-rss');
    expect(over.pass).toBe(false);
    expect(over.actual).toBe('150.0 MiB');
    expect(over.title).toContain('200,000 messages');
  });
  it('does not judge peak RSS measured after fewer messages than the target names, and never contradicts the figure', () => {
    const s = summarize(input({}, { ...goodMemory, messages: 20_000, accepted: 20_000, vmHwmBytes: 109.5 * MIB }));
    const v = verdict(s.verdicts, 'peak-rss');
    expect(v.skipped).toBe('the target is stated for 200,000 messages; this run sent 20,000');
    expect(v.pass, 'the figure is within its limit').toBe(true);
    expect(s.ok, 'a skipped target does not count').toBe(true);
    const line = formatVerdicts(s.verdicts).split('\n').find((l) => l.includes('peak RSS'));
    expect(line).toMatch(/^SKIP {2}ours: peak RSS .*: 109\.5 MiB \(required <= 150\.0 MiB\) \[not judged: the target is stated for 200,000 messages/);
    const over = summarize(input({}, { ...goodMemory, messages: 20_000, accepted: 20_000, vmHwmBytes: 151 * MIB }));
    expect(verdict(over.verdicts, 'peak-rss')).toMatchObject({ pass: false, skipped: expect.any(String) as string });
    expect(over.ok).toBe(true);
  });
  it('--quick judges no performance target, but every check still counts', () => {
    const slow = input({ 'reuse:ours': [1_000, 1_000, 1_000] }, { ...goodMemory, messages: 20_000, accepted: 19_999 });
    const quick = summarize(slow, { quick: true });
    expect(quick.verdicts.filter((v) => v.kind === 'target').every((v) => v.skipped !== undefined)).toBe(true);
    expect(verdict(quick.verdicts, 'reuse-rate')).toMatchObject({ pass: false, skipped: expect.stringContaining('--quick') as string });
    expect(quick.checksOk, 'the exact-count check still fails').toBe(false);
    expect(quick.ok).toBe(false);
    const fine = summarize(input({ 'reuse:ours': [1_000, 1_000, 1_000] }), { quick: true });
    expect(fine.ok, 'a slow quick run with sound checks is ok').toBe(true);
    expect(summarize(input({ 'reuse:ours': [1_000, 1_000, 1_000] })).ok, 'the same figures fail a full run').toBe(false);
  });
  it('fails peak RSS when the memory step did not run or failed', () => {
    expect(verdict(summarize(input({}, null)).verdicts, 'peak-rss')).toMatchObject({ pass: false, actual: 'memory step not run' });
    const failed = summarize(input({}, { ...goodMemory, error: 'smtp-source run 2: killed after 120 s' }));
    expect(verdict(failed.verdicts, 'peak-rss')).toMatchObject({ pass: false, actual: 'smtp-source run 2: killed after 120 s' });
    expect(verdict(failed.verdicts, 'runs-completed').pass).toBe(false);
  });
  it("fails the exact-count check on any run where ours' accepted counter is off, warm-ups included", () => {
    const data = input({});
    const warmup = data.runs.find((r) => r.peer === 'ours' && r.round === 0);
    if (!warmup) throw new Error('fixture');
    warmup.accepted = 99;
    const s = summarize(data);
    const v = verdict(s.verdicts, 'exact-count');
    expect(v).toMatchObject({ kind: 'check', pass: false });
    expect(v.actual).toBe('MISMATCH in 1: A reuse (-d) round 0: +99 for 100');
    expect(s.checksOk).toBe(false);
    expect(s.ok).toBe(false);
  });
  it('checks the memory step count too', () => {
    const v = verdict(summarize(input({}, { ...goodMemory, accepted: 199_999 })).verdicts, 'exact-count');
    expect(v.pass).toBe(false);
    expect(v.actual).toContain('memory step: +199999 for 200000');
  });
  it('counts every run ours made, plus the memory step, when exact', () => {
    // 2 modes x (1 warm-up + 3 rounds) + memory step
    expect(verdict(summarize(input({})).verdicts, 'exact-count').actual).toBe('9 of 9 runs exact');
  });
});

describe('bench text', () => {
  it('prints an aligned table with one row per server and mode', () => {
    const table = formatTable(buildRows(input({})));
    const lines = table.split('\n');
    expect(lines).toHaveLength(2 + 6);
    expect(lines[0]).toMatch(/^mode\s+server\s+rounds\s+msgs\/round\s+median msg\/s\s+best msg\/s\s+worst msg\/s\s+spread\s+ours ÷ this\s+other CPU$/);
    expect(lines[2]).toMatch(/^A reuse \(-d\)\s+ours\s+3\/3\s+10,000\s+10,000\s+11,000\s+9,000\s+20%\s+1\.00x\s+0\.10$/);
    expect(lines[3]).toMatch(/postfix smtp-sink\s+3\/3\s+10,000\s+20,000\s+25,000\s+15,000\s+50%\s+0\.50x\s+0\.10$/);
    expect(lines[7]).toMatch(/^B new conn\/msg\s+maildev 2\.2\.1\s+3\/3\s+10,000\s+200\s+250\s+150\s+50%\s+15\.00x\s+0\.10$/);
    // columns line up: every line's "ours ÷ this" column ends at the same place
    expect(new Set(lines.filter((l) => !l.startsWith('-')).map((l) => l.length)).size).toBe(1);
  });
  it('prints PASS/FAIL lines with the measured and required numbers', () => {
    const text = formatVerdicts(summarize(input({ 'per-message:ours': [1_000, 1_500, 1_800] })).verdicts);
    expect(text).toContain('PASS  mode A (connection reuse): ours msg/s: 10,000 msg/s (median; best 11,000) (required >= 8,000 msg/s)');
    expect(text).toContain('FAIL  mode B (new connection per message): ours msg/s: 1,500 msg/s (median; best 1,800) (required >= 2,000 msg/s)');
    expect(text).toMatch(/PASS {2}ours: peak RSS \(VmHWM\) after 200,000 messages, default ring buffer: 120\.0 MiB \(required <= 150\.0 MiB\)/);
    expect(text).toContain('[check]');
  });
  it('warns when other processes competed for the CPUs during the timed rounds, and only then', () => {
    const quiet = input({});
    expect(noiseWarning(buildRows(quiet))).toBeUndefined();
    expect(formatReport(quiet)).not.toContain('not quiet');
    const noisy = input({});
    for (const r of noisy.runs) if (r.peer === 'postfix' && r.mode === 'reuse' && r.cpu) r.cpu.otherCores = 0.9;
    const rows = buildRows(noisy);
    expect(rows.find((r) => r.peer === 'postfix' && r.mode === 'reuse')?.otherCores).toBeCloseTo(0.9);
    expect(noiseWarning(rows)).toContain('other processes kept up to 0.90 cores busy during the timed rounds (postfix smtp-sink, A reuse (-d)');
    expect(formatReport(noisy)).toContain('warning: the machine was not quiet');
  });
  it('puts the table, the memory step and the targets in the report', () => {
    const data = { ...input({}, { ...goodMemory, reportedHeapUsedBytes: 40 * MIB }), throughputPeakRss: { ours: 100 * MIB, postfix: 10 * MIB } };
    const text = formatReport(data);
    expect(text).toContain('peak RSS (VmHWM) over the throughput rounds: ours 100.0 MiB, postfix smtp-sink 10.0 MiB');
    expect(text).toContain('memory step (fresh ours, mode A): 200,000 messages in 20.0 s (10,000 msg/s), VmHWM 120.0 MiB; VmRSS at end 110.0 MiB, heapUsed 40.0 MiB');
    expect(text).toContain('targets:\nPASS');
  });
});

describe('bench command line and plan', () => {
  it('defaults to 3 rounds, full counts, failing on targets', () => {
    expect(parseBenchArgs([])).toEqual({ rounds: 3, quick: false, json: false, failOnTargets: true, help: false });
    expect(parseBenchArgs(['--rounds', '5', '--quick', '--json', '--no-fail'])).toEqual({ rounds: 5, quick: true, json: true, failOnTargets: false, help: false });
  });
  it('refuses bad rounds and unknown options', () => {
    for (const bad of [['--rounds', '0'], ['--rounds', 'x'], ['--rounds', '21'], ['--rounds', '2.5'], ['--fast'], ['extra']]) {
      expect(() => parseBenchArgs(bad)).toThrow(UsageError);
    }
  });
  it('plans the issue counts: 40,000 / 10,000 messages, 200,000 for memory, 120 s per run', () => {
    const plan = makePlan({ rounds: 3, quick: false });
    expect(plan).toMatchObject({ sessions: 20, size: 1024, from: 'bench@source.test', to: 'sink@bench.test', runTimeoutMs: 120_000 });
    expect(plan.counts.reuse).toMatchObject({ ours: 40_000, postfix: 40_000 });
    expect(plan.counts['per-message']).toMatchObject({ ours: 10_000, postfix: 10_000 });
    expect(plan.counts.reuse.maildev).toBeLessThan(40_000);
    expect(plan.memory.messages).toBe(200_000);
    const quick = makePlan({ rounds: 1, quick: true });
    expect(quick.counts.reuse.ours).toBeLessThan(plan.counts.reuse.ours);
    expect(quick.memory.messages).toBeLessThan(plan.memory.messages);
  });
  it('builds the smtp-source command line for both modes', () => {
    const base = { port: 2525, messages: 40_000, sessions: 20, size: 1024, from: 'bench@source.test', to: 'sink@bench.test' };
    expect(smtpSourceArgs({ ...base, reuse: true })).toEqual(['-s', '20', '-l', '1024', '-m', '40000', '-d', '-f', 'bench@source.test', '-t', 'sink@bench.test', '127.0.0.1:2525']);
    expect(smtpSourceArgs({ ...base, reuse: false })).not.toContain('-d');
  });
});

describe('bench CPU accounting', () => {
  it('turns tick deltas into cores: server, smtp-source, and what else kept the machine busy', () => {
    const a = { server: 1_000, self: 50, reaped: 300, machine: { busy: 5_000, steal: 10, total: 20_000 } };
    // 200 ticks of wall on 2 CPUs = 100 ticks per core; 180 busy = server 90 + smtp-source 40 + bench 10 + other 40
    const b = { server: 1_090, self: 60, reaped: 340, machine: { busy: 5_180, steal: 20, total: 20_200 } };
    expect(cpuBetween(a, b, 2)).toEqual({ serverCores: 0.9, sourceCores: 0.4, machineCores: 1.8, otherCores: 0.4, stealCores: 0.1 });
    expect(cpuBetween(a, a, 2)).toEqual({ serverCores: 0, sourceCores: 0, machineCores: 0, otherCores: 0, stealCores: 0 });
  });
});

describe('npm run bench -- --help', () => {
  it('prints one Usage: line, its own, and each benchmark\'s options under its name', () => {
    const load = 'Usage: npm run bench:load -- [options]   (npm run bench runs it after the sink benchmark)\n\nThe load generator...\n\nOptions:\n  --rounds N   x\n';
    const text = benchHelp([
      { name: 'sink', file: 'bench/sink.bench.ts', text: USAGE },
      { name: 'load', file: 'bench/load.bench.ts', text: load },
    ]);
    expect(text.match(/^Usage:/gm)).toEqual(['Usage:']);
    expect(text).toMatch(/^Usage: npm run bench -- \[--only sink\|load\]/);
    expect(text).toContain('== sink (npm run bench:sink, bench/sink.bench.ts)\nCompares the mailkind smtp-sink');
    expect(text).toContain('== load (npm run bench:load, bench/load.bench.ts)\nThe load generator...');
    expect(USAGE).toMatch(/^Usage: npm run bench:sink /);
  });
});

// The load generator's benchmark verdicts (bench/lib/load-verdicts.ts): medians, ratios against
// smtp-source per server, the checks that make a measurement trustworthy, the table.
import { describe, expect, it } from 'vitest';
import { buildLoadRows, formatLoadTable, formatLoadVerdicts, summarizeLoadBench, type ClientId, type LoadRun, type ServerId } from '../../../bench/lib/load-verdicts.js';

const names: Record<ServerId, string> = { ours: 'ours (mailkind smtp-sink)', postfix: 'postfix smtp-sink' };

function run(server: ServerId, client: ClientId, round: number, msgPerSec: number, extra: Partial<LoadRun> = {}): LoadRun {
  const messages = 40_000;
  return {
    server, client, round, messages, ms: (messages / msgPerSec) * 1000,
    ...(client === 'load' ? { processMs: (messages / msgPerSec) * 1000 + 600, clientAccepted: messages, clientErrors: 0 } : {}),
    ...(server === 'ours' ? { serverAccepted: messages } : {}),
    cpu: { serverCores: 0.9, clientCores: 0.7, otherCores: 0.05 },
    ...extra,
  };
}

function runs(rates: Record<`${ServerId}:${ClientId}`, [number, number, number]>): LoadRun[] {
  const out: LoadRun[] = [];
  for (const s of ['ours', 'postfix'] as const) for (const c of ['smtp-source', 'load'] as const) out.push(run(s, c, 0, 100)); // slow warm-ups: ignored
  for (let round = 1; round <= 3; round++) {
    for (const s of ['ours', 'postfix'] as const) for (const c of ['smtp-source', 'load'] as const) out.push(run(s, c, round, rates[`${s}:${c}`][round - 1] ?? 0));
  }
  return out;
}

const good = runs({ 'ours:smtp-source': [8_000, 8_200, 7_900], 'ours:load': [10_000, 10_500, 9_000], 'postfix:smtp-source': [22_000, 21_000, 23_000], 'postfix:load': [18_000, 26_000, 25_000] });

describe('load benchmark verdicts', () => {
  it('medians per server and client, warm-ups ignored; the ratio is load / smtp-source per server', () => {
    const s = summarizeLoadBench(good, names);
    const row = (server: ServerId, client: ClientId) => s.rows.find((r) => r.server === server && r.client === client);
    expect(row('ours', 'smtp-source')?.median).toBeCloseTo(8_000);
    expect(row('ours', 'load')).toMatchObject({ okRounds: 3, rounds: 3, best: expect.closeTo(10_500) as number, worst: expect.closeTo(9_000) as number });
    expect(row('postfix', 'load')?.median).toBeCloseTo(25_000);
    expect(s.ratios.ours).toBeCloseTo(10_000 / 8_000);
    expect(s.ratios.postfix).toBeCloseTo(25_000 / 22_000);
    expect(s.verdicts.map((v) => [v.id, v.pass])).toEqual([['ratio-ours', true], ['ratio-postfix', true], ['runs-completed', true], ['exact-count', true]]);
    expect(s.ok).toBe(true);
    // the rate with node's start-up is shown beside, never used for the verdict
    expect(row('ours', 'load')?.medianWithStartup).toBeLessThan(row('ours', 'load')?.median ?? 0);
  });

  it('below 0.8x against one server fails that target only', () => {
    const slow = good.map((r) => (r.server === 'postfix' && r.client === 'load' && r.round > 0 ? { ...r, ms: r.ms * 2 } : r));
    const s = summarizeLoadBench(slow, names);
    expect(s.verdicts.find((v) => v.id === 'ratio-postfix')).toMatchObject({ pass: false, actual: expect.stringMatching(/^0\.5\dx/) as string });
    expect(s.verdicts.find((v) => v.id === 'ratio-ours')?.pass).toBe(true);
    expect(s.ok).toBe(false);
    expect(s.checksOk).toBe(true);
  });

  it('--quick shows the ratios but judges no target', () => {
    const slow = good.map((r) => (r.server === 'postfix' && r.client === 'load' && r.round > 0 ? { ...r, ms: r.ms * 2 } : r));
    const s = summarizeLoadBench(slow, names, { quick: true });
    expect(s.verdicts.find((v) => v.id === 'ratio-postfix')).toMatchObject({ pass: false, skipped: expect.stringContaining('--quick') as string });
    expect(s.ok).toBe(true);
    expect(formatLoadVerdicts(s.verdicts)).toMatch(/^SKIP {2}against .*\[not judged: --quick/m);
  });

  it('a failed run or a sink count off by one fails a check (the numbers cannot be trusted)', () => {
    const broken = [...good, run('ours', 'load', 4, 10_000, { error: 'accepted 39999 of 40000, 1 error(s)' }), run('ours', 'smtp-source', 4, 8_000, { serverAccepted: 39_999 })];
    const s = summarizeLoadBench(broken, names);
    expect(s.verdicts.find((v) => v.id === 'runs-completed')).toMatchObject({ pass: false, actual: expect.stringMatching(/1 failed: load -> ours \(mailkind smtp-sink\) round 4: accepted 39999/) as string });
    expect(s.verdicts.find((v) => v.id === 'exact-count')).toMatchObject({ pass: false, actual: expect.stringMatching(/MISMATCH in 1: smtp-source round 4/) as string });
    expect(s.checksOk).toBe(false);
  });

  it('no completed round: no ratio, the target fails', () => {
    const none = good.map((r) => (r.client === 'load' && r.round > 0 ? { ...r, error: 'exit 1' } : r));
    const s = summarizeLoadBench(none, names);
    expect(s.ratios).toEqual({});
    expect(s.verdicts.find((v) => v.id === 'ratio-ours')).toMatchObject({ pass: false, actual: 'no completed round for one of the two' });
    expect(buildLoadRows(none).find((r) => r.client === 'load')?.median).toBeUndefined();
  });

  it('the table: every figure and the ratio on the load generator\'s rows; verdict lines', () => {
    const s = summarizeLoadBench(good, names);
    const lines = formatLoadTable(s, names).split('\n');
    expect(lines[0]).toMatch(/^server\s+client\s+rounds\s+msgs\/round\s+median msg\/s\s+best\s+worst\s+spread\s+load ÷ source\s+with start-up\s+client CPU\s+server CPU\s+other CPU$/);
    expect(lines).toHaveLength(6);
    expect(lines[3]).toMatch(/^ours \(mailkind smtp-sink\)\s+npm run load \(SMTP\)\s+3\/3\s+40,000\s+10,000\s+10,500\s+9,000\s+15%\s+1\.25x\s+8,\d{3}\s+0\.70\s+0\.90\s+0\.05$/);
    expect(lines[4]).toMatch(/^postfix smtp-sink\s+postfix smtp-source\s+3\/3\s+40,000\s+22,000/);
    expect(formatLoadVerdicts(s.verdicts).split('\n')[0]).toBe('PASS  against ours (mailkind smtp-sink): load generator / smtp-source (medians): 1.25x (10,000 vs 8,000 msg/s) (required >= 0.8x)');
  });
});

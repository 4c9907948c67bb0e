// Numbers the scenarios report and check: latency percentiles, a throttle check over arrival
// times, and JSON reports under reports/. Pure except writeReport.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Nearest-rank percentile (q in 0..1) of unsorted values; NaN for none. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] as number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(latenciesMs: readonly number[]): LatencySummary {
  return {
    count: latenciesMs.length,
    p50: percentile(latenciesMs, 0.5),
    p95: percentile(latenciesMs, 0.95),
    p99: percentile(latenciesMs, 0.99),
    max: latenciesMs.length ? Math.max(...latenciesMs) : Number.NaN,
  };
}

export interface ThrottleVerdict {
  /** the window with the most messages over the allowance */
  worst: { fromMs: number; toMs: number; count: number; allowed: number };
  ok: boolean;
  /** messages per second from the first arrival to the last, after the burst */
  sustainedRate: number;
}

/**
 * Whether arrival times respect a GCRA limit of `rate`/s with `burst`: in every window between two
 * arrivals, count <= burst + rate * factor * seconds + extra. `factor` and `extra` are the stated
 * tolerance (delivery jitter, and CL.THROTTLE admitting burst + 1).
 */
export function checkThrottle(arrivalsMs: readonly number[], rate: number, burst: number, tolerance: { rateFactor: number; extraMessages: number }): ThrottleVerdict {
  const t = [...arrivalsMs].sort((a, b) => a - b);
  let worst = { fromMs: t[0] ?? 0, toMs: t[0] ?? 0, count: 0, allowed: Infinity };
  let worstExcess = -Infinity;
  for (let i = 0; i < t.length; i++) {
    for (let j = i; j < t.length; j++) {
      const seconds = ((t[j] as number) - (t[i] as number)) / 1000;
      const count = j - i + 1;
      const allowed = burst + rate * tolerance.rateFactor * seconds + tolerance.extraMessages;
      if (count - allowed > worstExcess) {
        worstExcess = count - allowed;
        worst = { fromMs: t[i] as number, toMs: t[j] as number, count, allowed: Math.round(allowed * 10) / 10 };
      }
    }
  }
  const span = t.length > 1 ? ((t[t.length - 1] as number) - (t[0] as number)) / 1000 : 0;
  const sustainedRate = span > 0 ? Math.max(0, t.length - burst) / span : Infinity;
  return { worst, ok: worstExcess <= 0, sustainedRate: Math.round(sustainedRate * 100) / 100 };
}

/** Writes reports/<name>.json (pretty) and returns the path. */
export function writeReport(dir: string, name: string, data: unknown): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}

/** The sink records the peer as the socket saw it; "::ffff:10.244.0.5" is 10.244.0.5. */
export function plainIp(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

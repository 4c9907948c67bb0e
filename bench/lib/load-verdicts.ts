// Pure: the load generator's benchmark results -> rows, ratios against smtp-source, verdicts and
// the printed table. No I/O, so test/unit/load/bench-verdicts.test.ts can check every rule.
import { counts, formatInt, median, QUICK_SKIP, rate, rateStats, skipTargets, verdictLine, type PeerId } from './verdicts.js';

export type ClientId = 'smtp-source' | 'load';
export type ServerId = Extract<PeerId, 'ours' | 'postfix'>;

export const SERVER_ORDER: readonly ServerId[] = ['ours', 'postfix'];
export const CLIENT_ORDER: readonly ClientId[] = ['smtp-source', 'load'];

/** The target: the load generator sends at least this fraction of smtp-source's rate. */
export const LOAD_TARGET_RATIO = 0.8;

export interface LoadRun {
  server: ServerId;
  client: ClientId;
  /** 1-based; 0 is an untimed warm-up */
  round: number;
  messages: number;
  /** the time the rate is computed from: smtp-source's process wall time; the load generator's own
   *  sending time (first connection to last reply), without node's start-up */
  ms: number;
  /** load generator only: its whole process, start-up included (information) */
  processMs?: number;
  /** ours only: how much the sink's accepted counter grew */
  serverAccepted?: number;
  /** load generator only: what it counted as accepted, and its errors */
  clientAccepted?: number;
  clientErrors?: number;
  /** cores used during the run */
  cpu?: { serverCores: number; clientCores: number; otherCores: number };
  error?: string;
}

export interface LoadRow {
  server: ServerId;
  client: ClientId;
  okRounds: number;
  rounds: number;
  messages: number;
  median?: number;
  best?: number;
  worst?: number;
  spread?: number;
  /** median of the load generator's rates with start-up included */
  medianWithStartup?: number;
  clientCores?: number;
  serverCores?: number;
  otherCores?: number;
}

export interface LoadVerdict {
  id: string;
  kind: 'target' | 'check';
  title: string;
  required: string;
  actual: string;
  pass: boolean;
  /** why this run does not judge the target (--quick); the figure is still shown */
  skipped?: string;
}

export interface LoadBenchSummary {
  rows: LoadRow[];
  /** load / smtp-source (medians) per server */
  ratios: Partial<Record<ServerId, number>>;
  verdicts: LoadVerdict[];
  ok: boolean;
  checksOk: boolean;
}

const mean = (xs: number[]) => (xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length);

export function runRate(r: LoadRun): number {
  return rate(r.messages, r.ms);
}

function row(runs: readonly LoadRun[], server: ServerId, client: ClientId): LoadRow | undefined {
  const timed = runs.filter((r) => r.server === server && r.client === client && r.round > 0);
  if (timed.length === 0) return undefined;
  const ok = timed.filter((r) => r.error === undefined);
  const rates = ok.map(runRate);
  const out: LoadRow = { server, client, okRounds: ok.length, rounds: timed.length, messages: Math.max(...timed.map((r) => r.messages)), ...rateStats(rates) };
  const withStartup = median(ok.filter((r) => r.processMs !== undefined).map((r) => rate(r.messages, r.processMs ?? 0)));
  if (withStartup !== undefined) out.medianWithStartup = withStartup;
  const cpu = ok.map((r) => r.cpu).filter((c) => c !== undefined);
  const c = mean(cpu.map((x) => x.clientCores));
  if (c !== undefined) {
    out.clientCores = c;
    out.serverCores = mean(cpu.map((x) => x.serverCores));
    out.otherCores = mean(cpu.map((x) => x.otherCores));
  }
  return out;
}

export function buildLoadRows(runs: readonly LoadRun[]): LoadRow[] {
  return SERVER_ORDER.flatMap((s) => CLIENT_ORDER.map((c) => row(runs, s, c))).filter((r): r is LoadRow => r !== undefined);
}

export function summarizeLoadBench(runs: readonly LoadRun[], names: Record<ServerId, string>, opts: { quick?: boolean } = {}): LoadBenchSummary {
  const rows = buildLoadRows(runs);
  const find = (s: ServerId, c: ClientId) => rows.find((r) => r.server === s && r.client === c);
  const ratios: Partial<Record<ServerId, number>> = {};
  const verdicts: LoadVerdict[] = SERVER_ORDER.map((server) => {
    const ours = find(server, 'load');
    const peer = find(server, 'smtp-source');
    const title = `against ${names[server]}: load generator / smtp-source (medians)`;
    const required = `>= ${LOAD_TARGET_RATIO}x`;
    if (ours?.median === undefined || peer?.median === undefined || peer.median <= 0) {
      return { id: `ratio-${server}`, kind: 'target', title, required, actual: 'no completed round for one of the two', pass: false };
    }
    const ratio = ours.median / peer.median;
    ratios[server] = ratio;
    return { id: `ratio-${server}`, kind: 'target', title, required, actual: `${ratio.toFixed(2)}x (${formatInt(ours.median)} vs ${formatInt(peer.median)} msg/s)`, pass: ratio >= LOAD_TARGET_RATIO };
  });
  const failed = runs.filter((r) => r.error !== undefined).map((r) => `${r.client} -> ${names[r.server]} round ${r.round}: ${r.error ?? ''}`);
  verdicts.push({
    id: 'runs-completed',
    kind: 'check',
    title: 'every run completed (exit 0; the load generator: every message accepted, no errors)',
    required: 'all',
    actual: failed.length === 0 ? `${runs.length} of ${runs.length}` : `${failed.length} failed: ${failed.join('; ')}`,
    pass: failed.length === 0,
  });
  const counted = runs.filter((r) => r.server === 'ours');
  const wrong = counted.filter((r) => r.serverAccepted !== r.messages).map((r) => `${r.client} round ${r.round}: +${r.serverAccepted ?? '?'} for ${r.messages}`);
  verdicts.push({
    id: 'exact-count',
    kind: 'check',
    title: "our sink's accepted counter grew by exactly the messages sent, every run of either client",
    required: 'exact',
    actual: wrong.length === 0 ? `${counted.length} of ${counted.length} runs exact` : `MISMATCH in ${wrong.length}: ${wrong.join('; ')}`,
    pass: counted.length > 0 && wrong.length === 0,
  });
  const judged = opts.quick ? skipTargets(verdicts, QUICK_SKIP) : verdicts;
  return { rows, ratios, verdicts: judged, ok: judged.filter(counts).every((v) => v.pass), checksOk: judged.filter((v) => v.kind === 'check').every((v) => v.pass) };
}

const CLIENT_LABEL: Record<ClientId, string> = { 'smtp-source': 'postfix smtp-source', load: 'npm run load (SMTP)' };

/** The side-by-side table: one row per server and client, with the ratio per server. */
export function formatLoadTable(summary: LoadBenchSummary, names: Record<ServerId, string>): string {
  const header = ['server', 'client', 'rounds', 'msgs/round', 'median msg/s', 'best', 'worst', 'spread', 'load ÷ source', 'with start-up', 'client CPU', 'server CPU', 'other CPU'];
  const num = (n: number | undefined, f: (x: number) => string) => (n === undefined ? '-' : f(n));
  const body = summary.rows.map((r) => [
    names[r.server],
    CLIENT_LABEL[r.client],
    `${r.okRounds}/${r.rounds}`,
    formatInt(r.messages),
    num(r.median, formatInt),
    num(r.best, formatInt),
    num(r.worst, formatInt),
    num(r.spread, (x) => `${(x * 100).toFixed(0)}%`),
    r.client === 'load' ? num(summary.ratios[r.server], (x) => `${x.toFixed(2)}x`) : '',
    num(r.medianWithStartup, formatInt),
    num(r.clientCores, (x) => x.toFixed(2)),
    num(r.serverCores, (x) => x.toFixed(2)),
    num(r.otherCores, (x) => x.toFixed(2)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function formatLoadVerdicts(verdicts: readonly LoadVerdict[]): string {
  return verdicts.map(verdictLine).join('\n');
}

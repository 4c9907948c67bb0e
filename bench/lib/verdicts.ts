// Pure: benchmark results -> table rows, verdicts against the issue's targets, and the printed text.
// No I/O here, so test/unit/bench/verdicts.test.ts can check every rule.

export type PeerId = 'ours' | 'postfix' | 'maildev';
export type Mode = 'reuse' | 'per-message';

export const PEER_ORDER: readonly PeerId[] = ['ours', 'postfix', 'maildev'];
export const MODE_ORDER: readonly Mode[] = ['reuse', 'per-message'];

export const MODE_LABEL: Record<Mode, string> = {
  reuse: 'A reuse (-d)',
  'per-message': 'B new conn/msg',
};

export const MIB = 1024 * 1024;

/** One timed smtp-source run against one server. */
export interface RunResult {
  peer: PeerId;
  mode: Mode;
  /** 1-based; 0 for an untimed warm-up run (ignored by the statistics). */
  round: number;
  /** Messages smtp-source was asked to send (-m). */
  messages: number;
  /** Wall time of the smtp-source process. */
  wallMs: number;
  /** Set when smtp-source failed (non-zero exit, timeout): the run has no rate. */
  error?: string;
  /** Ours only: how much the sink's `accepted` counter grew during the run. */
  accepted?: number;
  /** CPU during the run, in cores (information: explains variance and ceilings). */
  cpu?: { serverCores: number; sourceCores: number; machineCores: number; otherCores: number; stealCores: number };
}

/** The memory step: a fresh instance of ours, N messages in mode A, then VmHWM. */
export interface MemoryResult {
  messages: number;
  /** VmHWM of the sink's node process, bytes. */
  vmHwmBytes: number;
  /** VmRSS at the end, bytes. */
  vmRssBytes?: number;
  /** memory.rss the sink reports itself (GET /api/stats): proves /proc was read for the right process. */
  reportedRssBytes?: number;
  /** memory.heapUsed the sink reports at the end: live JS objects, as opposed to heap V8 merely reserved. */
  reportedHeapUsedBytes?: number;
  /** How much `accepted` grew over the whole step. */
  accepted: number;
  wallMs: number;
  error?: string;
}

export interface Targets {
  /** Mode A: ours at least this many msg/s (median). */
  reuseMinRate: number;
  /** Mode A: ours / postfix smtp-sink at least this (medians). */
  reuseMinVsPostfix: number;
  /** Mode B: ours at least this many msg/s (median). */
  perMessageMinRate: number;
  /** Mode A: ours / maildev at least this (medians). */
  reuseMinVsMaildev: number;
  /** Peak RSS (VmHWM) of ours after the memory step, bytes. */
  peakRssMaxBytes: number;
  /** The message count the peak-RSS target is stated for. */
  peakRssMessages: number;
}

export const ISSUE_TARGETS: Targets = {
  reuseMinRate: 8_000,
  reuseMinVsPostfix: 0.4,
  perMessageMinRate: 2_000,
  reuseMinVsMaildev: 3,
  peakRssMaxBytes: 150 * MIB,
  peakRssMessages: 200_000,
};

export interface BenchInput {
  runs: RunResult[];
  memory?: MemoryResult;
  /** Display name per peer (e.g. "maildev 2.2.1"). */
  names: Record<PeerId, string>;
  targets: Targets;
  /** VmHWM of each server over the throughput rounds, bytes (information, no target). */
  throughputPeakRss?: Partial<Record<PeerId, number>>;
}

export interface Row {
  mode: Mode;
  peer: PeerId;
  name: string;
  /** Timed rounds that completed / timed rounds run. */
  okRounds: number;
  rounds: number;
  /** Messages per round (the largest seen, they are all equal in practice). */
  messages: number;
  median?: number;
  best?: number;
  worst?: number;
  /** (best - worst) / median: how much the rounds disagree. */
  spread?: number;
  /** Ours' median divided by this row's median (1 for ours). */
  oursOver?: number;
  /** Mean cores other processes kept busy during the completed rounds: the machine was not quiet. */
  otherCores?: number;
}

export interface Verdict {
  id: string;
  /** 'target' verdicts are the issue's performance targets (`--no-fail` ignores them);
   *  'check' verdicts say the measurement itself is sound and always count. */
  kind: 'target' | 'check';
  title: string;
  required: string;
  actual: string;
  pass: boolean;
  /** Set when the run cannot judge this target (a --quick run, fewer messages than the target is
   *  stated for): the figure is shown, the verdict reads SKIP and does not count. */
  skipped?: string;
}

/** Why a --quick run judges no performance target. */
export const QUICK_SKIP = '--quick is a smoke run of the benchmark; targets are judged on full runs';

/** Marks every 'target' verdict skipped (checks still count): what a --quick run reports. */
export function skipTargets<V extends { kind: 'target' | 'check'; skipped?: string }>(verdicts: V[], reason: string): V[] {
  return verdicts.map((v) => (v.kind === 'target' && v.skipped === undefined ? { ...v, skipped: reason } : v));
}

/** A verdict counts when it is not skipped. */
export function counts(v: { skipped?: string }): boolean {
  return v.skipped === undefined;
}

export interface Summary {
  rows: Row[];
  verdicts: Verdict[];
  /** Every verdict passed. */
  ok: boolean;
  /** Every 'check' verdict passed (the numbers can be trusted). */
  checksOk: boolean;
}

export function rate(messages: number, wallMs: number): number {
  return wallMs > 0 ? messages / (wallMs / 1000) : 0;
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function rowFor(input: BenchInput, mode: Mode, peer: PeerId): Row | undefined {
  const timed = input.runs.filter((r) => r.mode === mode && r.peer === peer && r.round > 0);
  if (timed.length === 0) return undefined;
  const rates = timed.filter((r) => r.error === undefined).map((r) => rate(r.messages, r.wallMs));
  const row: Row = {
    mode,
    peer,
    name: input.names[peer],
    okRounds: rates.length,
    rounds: timed.length,
    messages: Math.max(...timed.map((r) => r.messages)),
  };
  const others = timed.filter((r) => r.error === undefined && r.cpu !== undefined).map((r) => r.cpu?.otherCores ?? 0);
  if (others.length > 0) row.otherCores = others.reduce((a, b) => a + b, 0) / others.length;
  return Object.assign(row, rateStats(rates));
}

/** Median, best, worst and spread ((best - worst) / median) of some rates; {} when there are none. */
export function rateStats(rates: readonly number[]): { median?: number; best?: number; worst?: number; spread?: number } {
  const med = median(rates);
  if (med === undefined) return {};
  const best = Math.max(...rates);
  const worst = Math.min(...rates);
  return { median: med, best, worst, spread: med > 0 ? (best - worst) / med : 0 };
}

export function buildRows(input: BenchInput): Row[] {
  const rows: Row[] = [];
  for (const mode of MODE_ORDER) {
    const modeRows = PEER_ORDER.map((peer) => rowFor(input, mode, peer)).filter((r): r is Row => r !== undefined);
    const ours = modeRows.find((r) => r.peer === 'ours')?.median;
    for (const row of modeRows) {
      if (ours !== undefined && row.median !== undefined && row.median > 0) row.oursOver = ours / row.median;
    }
    rows.push(...modeRows);
  }
  return rows;
}

export function formatInt(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function formatMib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

function minRateVerdict(id: string, title: string, row: Row | undefined, min: number): Verdict {
  const required = `>= ${formatInt(min)} msg/s`;
  if (row?.median === undefined) return { id, kind: 'target', title, required, actual: 'no completed round', pass: false };
  return { id, kind: 'target', title, required, actual: `${formatInt(row.median)} msg/s (median; best ${formatInt(row.best ?? 0)})`, pass: row.median >= min };
}

function ratioVerdict(id: string, title: string, ours: Row | undefined, peer: Row | undefined, min: number): Verdict {
  const required = `>= ${min}x`;
  if (ours?.median === undefined || peer?.median === undefined || peer.median <= 0) {
    return { id, kind: 'target', title, required, actual: 'no completed round for ours or the peer', pass: false };
  }
  const ratio = ours.median / peer.median;
  return {
    id,
    kind: 'target',
    title,
    required,
    actual: `${ratio.toFixed(2)}x (${formatInt(ours.median)} vs ${formatInt(peer.median)} msg/s, medians)`,
    pass: ratio >= min,
  };
}

function memoryVerdict(memory: MemoryResult | undefined, t: Targets): Verdict {
  const id = 'peak-rss';
  const title = `ours: peak RSS (VmHWM) after ${formatInt(memory?.messages ?? t.peakRssMessages)} messages, default ring buffer`;
  const required = `<= ${formatMib(t.peakRssMaxBytes)}`;
  if (!memory || memory.error !== undefined) {
    return { id, kind: 'target', title, required, actual: memory?.error ?? 'memory step not run', pass: false };
  }
  // the verdict follows the figure; a run shorter than the target's count is not judged at all
  const verdict: Verdict = { id, kind: 'target', title, required, actual: formatMib(memory.vmHwmBytes), pass: memory.vmHwmBytes <= t.peakRssMaxBytes };
  if (memory.messages < t.peakRssMessages) verdict.skipped = `the target is stated for ${formatInt(t.peakRssMessages)} messages; this run sent ${formatInt(memory.messages)}`;
  return verdict;
}

function completedVerdict(input: BenchInput): Verdict {
  const failed = input.runs.filter((r) => r.error !== undefined);
  const memoryFailed = input.memory?.error !== undefined;
  const n = input.runs.length + (input.memory ? 1 : 0);
  const problems = failed.map((r) => `${r.peer} ${MODE_LABEL[r.mode]} round ${r.round}: ${r.error ?? ''}`);
  if (memoryFailed) problems.push(`memory step: ${input.memory?.error ?? ''}`);
  return {
    id: 'runs-completed',
    kind: 'check',
    title: 'every smtp-source run completed (exit 0, within its time limit)',
    required: 'all',
    actual: problems.length === 0 ? `${n} of ${n}` : `${problems.length} failed: ${problems.join('; ')}`,
    pass: problems.length === 0,
  };
}

function exactVerdict(input: BenchInput): Verdict {
  const ours = input.runs.filter((r) => r.peer === 'ours');
  const wrong = ours.filter((r) => r.accepted !== r.messages).map((r) => `${MODE_LABEL[r.mode]} round ${r.round}: +${r.accepted ?? '?'} for ${r.messages}`);
  let checked = ours.length;
  if (input.memory) {
    checked += 1;
    if (input.memory.accepted !== input.memory.messages) wrong.push(`memory step: +${input.memory.accepted} for ${input.memory.messages}`);
  }
  return {
    id: 'exact-count',
    kind: 'check',
    title: "ours: the sink's `accepted` grew by exactly the messages sent, every run",
    required: 'exact',
    actual: wrong.length === 0 ? `${checked} of ${checked} runs exact` : `MISMATCH in ${wrong.length}: ${wrong.join('; ')}`,
    pass: checked > 0 && wrong.length === 0,
  };
}

export function buildVerdicts(input: BenchInput, rows: Row[] = buildRows(input)): Verdict[] {
  const t = input.targets;
  const find = (mode: Mode, peer: PeerId) => rows.find((r) => r.mode === mode && r.peer === peer);
  const oursA = find('reuse', 'ours');
  return [
    minRateVerdict('reuse-rate', 'mode A (connection reuse): ours msg/s', oursA, t.reuseMinRate),
    ratioVerdict('reuse-vs-postfix', 'mode A: ours / postfix smtp-sink', oursA, find('reuse', 'postfix'), t.reuseMinVsPostfix),
    minRateVerdict('per-message-rate', 'mode B (new connection per message): ours msg/s', find('per-message', 'ours'), t.perMessageMinRate),
    ratioVerdict('reuse-vs-maildev', 'mode A: ours / maildev', oursA, find('reuse', 'maildev'), t.reuseMinVsMaildev),
    memoryVerdict(input.memory, t),
    completedVerdict(input),
    exactVerdict(input),
  ];
}

export function summarize(input: BenchInput, opts: { quick?: boolean } = {}): Summary {
  const rows = buildRows(input);
  const built = buildVerdicts(input, rows);
  const verdicts = opts.quick ? skipTargets(built, QUICK_SKIP) : built;
  return { rows, verdicts, ok: verdicts.filter(counts).every((v) => v.pass), checksOk: verdicts.filter((v) => v.kind === 'check').every((v) => v.pass) };
}

/** PASS, FAIL or SKIP (with why) for one verdict line. */
export function verdictLine(v: Pick<Verdict, 'pass' | 'skipped' | 'title' | 'actual' | 'required' | 'kind'>): string {
  const mark = v.skipped !== undefined ? 'SKIP' : v.pass ? 'PASS' : 'FAIL';
  const why = v.skipped !== undefined ? ` [not judged: ${v.skipped}]` : '';
  return `${mark}  ${v.title}: ${v.actual} (required ${v.required})${v.kind === 'check' ? ' [check]' : ''}${why}`;
}

function pad(cells: string[], widths: number[], rightAlign: boolean[]): string {
  return cells.map((c, i) => (rightAlign[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
}

/** The side-by-side table, one row per server and mode. */
export function formatTable(rows: Row[]): string {
  const header = ['mode', 'server', 'rounds', 'msgs/round', 'median msg/s', 'best msg/s', 'worst msg/s', 'spread', 'ours ÷ this', 'other CPU'];
  const right = [false, false, true, true, true, true, true, true, true, true];
  const body = rows.map((r) => [
    MODE_LABEL[r.mode],
    r.name,
    `${r.okRounds}/${r.rounds}`,
    formatInt(r.messages),
    r.median === undefined ? 'failed' : formatInt(r.median),
    r.best === undefined ? '-' : formatInt(r.best),
    r.worst === undefined ? '-' : formatInt(r.worst),
    r.spread === undefined ? '-' : `${(r.spread * 100).toFixed(0)}%`,
    r.oursOver === undefined ? '-' : `${r.oursOver.toFixed(2)}x`,
    r.otherCores === undefined ? '-' : r.otherCores.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [pad(header, widths, right), rule, ...body.map((b) => pad(b, widths, right))].join('\n');
}

/** One line per verdict: PASS/FAIL, what was required, what was measured. */
export function formatVerdicts(verdicts: Verdict[]): string {
  return verdicts.map(verdictLine).join('\n');
}

/** Mean cores of other work above which the report warns that the machine was not quiet. */
export const NOISY_OTHER_CORES = 0.25;

/** A warning when other processes competed for the CPUs during the timed rounds, else undefined. */
export function noiseWarning(rows: Row[]): string | undefined {
  const worst = rows.reduce<Row | undefined>((w, r) => ((r.otherCores ?? 0) > (w?.otherCores ?? 0) ? r : w), undefined);
  if (!worst || (worst.otherCores ?? 0) <= NOISY_OTHER_CORES) return undefined;
  return (
    `warning: the machine was not quiet: other processes kept up to ${(worst.otherCores ?? 0).toFixed(2)} cores busy ` +
    `during the timed rounds (${worst.name}, ${MODE_LABEL[worst.mode]}; column "other CPU"). Rates and ratios are skewed; rerun on an idle machine before relying on them.`
  );
}

/** The whole human report: table, memory step, verdicts. */
export function formatReport(input: BenchInput, summary: Summary = summarize(input)): string {
  const lines = [formatTable(summary.rows), ''];
  const noise = noiseWarning(summary.rows);
  if (noise !== undefined) lines.push(noise, '');
  const peaks = PEER_ORDER.filter((p) => input.throughputPeakRss?.[p] !== undefined).map((p) => `${input.names[p]} ${formatMib(input.throughputPeakRss?.[p] ?? 0)}`);
  if (peaks.length > 0) lines.push(`peak RSS (VmHWM) over the throughput rounds: ${peaks.join(', ')}`, '');
  const m = input.memory;
  if (m && m.error === undefined) {
    const extra = [m.vmRssBytes === undefined ? '' : `VmRSS at end ${formatMib(m.vmRssBytes)}`, m.reportedRssBytes === undefined ? '' : `sink-reported rss ${formatMib(m.reportedRssBytes)}`, m.reportedHeapUsedBytes === undefined ? '' : `heapUsed ${formatMib(m.reportedHeapUsedBytes)}`]
      .filter(Boolean)
      .join(', ');
    lines.push(
      `memory step (fresh ours, mode A): ${formatInt(m.messages)} messages in ${(m.wallMs / 1000).toFixed(1)} s (${formatInt(rate(m.messages, m.wallMs))} msg/s), VmHWM ${formatMib(m.vmHwmBytes)}${extra ? `; ${extra}` : ''}`,
      '',
    );
  }
  lines.push('targets:', formatVerdicts(summary.verdicts));
  return lines.join('\n');
}

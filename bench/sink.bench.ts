// npm run bench: the mailkind smtp-sink side by side with postfix's smtp-sink and maildev, all driven
// by postfix's smtp-source on loopback; then the sink's peak RSS after 200,000 messages.
// Usage and exit codes: bench/lib/options.ts (npm run bench -- --help).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { benchMain, type Log } from './lib/main.js';
import { makePlan, USAGE, type BenchOptions, type Plan } from './lib/options.js';
import { startMaildev, startOurs, startPostfixSink, type Peer } from './lib/peers.js';
import { cpuBetween, type CpuUse } from './lib/procs.js';
import { ensureBundle, requireMaildev, requirePostfixTools, type PostfixTools } from './lib/setup.js';
import { runSmtpSource } from './lib/smtp-source.js';
import {
  formatInt,
  formatReport,
  ISSUE_TARGETS,
  MIB,
  MODE_LABEL,
  MODE_ORDER,
  PEER_ORDER,
  rate,
  summarize,
  type BenchInput,
  type MemoryResult,
  type Mode,
  type PeerId,
  type RunResult,
} from './lib/verdicts.js';

const ROOT = resolve(import.meta.dirname, '..');
const REPORT_FILE = 'reports/bench-sink.json';


interface Ctx {
  plan: Plan;
  /** CPUs of the machine, for CPU use in cores. */
  cores: number;
  tools: PostfixTools;
  log: Log;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** "cores: server 0.95, smtp-source 0.40, other 0.10; 1.60 of 2 busy" */
function cpuLine(c: CpuUse, cores: number): string {
  const steal = c.stealCores >= 0.05 ? `, steal ${c.stealCores.toFixed(2)}` : '';
  return `cores: server ${c.serverCores.toFixed(2)}, smtp-source ${c.sourceCores.toFixed(2)}, other ${c.otherCores.toFixed(2)}; ${c.machineCores.toFixed(2)} of ${cores} busy${steal}`;
}

/** One timed (round > 0) or warm-up (round 0) smtp-source run; for ours, the accepted counter is checked. */
async function measure(ctx: Ctx, peer: Peer, mode: Mode, round: number, messages: number): Promise<RunResult> {
  const { plan } = ctx;
  let before: number | undefined;
  try {
    before = peer.accepted ? await peer.accepted() : undefined;
  } catch (e) {
    throw new Error(`${peer.name}: cannot read its accepted counter before ${MODE_LABEL[mode]} round ${round}: ${errorText(e)}`, { cause: e });
  }
  const cpuBefore = peer.cpu();
  const run = await runSmtpSource({
    bin: ctx.tools.smtpSource,
    port: peer.smtpPort,
    messages,
    sessions: plan.sessions,
    size: plan.size,
    reuse: mode === 'reuse',
    from: plan.from,
    to: plan.to,
    timeoutMs: plan.runTimeoutMs,
  });
  const cpu = cpuBetween(cpuBefore, peer.cpu(), ctx.cores);
  const result: RunResult = { peer: peer.id, mode, round, messages, wallMs: run.wallMs, cpu };
  const problems = run.error === undefined ? [] : [run.error];
  if (peer.accepted && before !== undefined) {
    try {
      result.accepted = (await peer.accepted()) - before;
    } catch (e) {
      problems.push(`cannot read the sink's stats after the run: ${errorText(e)}`);
    }
    if (result.accepted !== messages) {
      // loud even with --json: an exact count is the sink's whole point
      process.stderr.write(
        `bench: MISMATCH: ${peer.name}, ${MODE_LABEL[mode]} ${round === 0 ? 'warm-up' : `round ${round}`}: smtp-source sent ${formatInt(messages)} messages but the sink's accepted counter grew by ${result.accepted === undefined ? '?' : formatInt(result.accepted)}\n`,
      );
    }
  }
  if (problems.length > 0) result.error = problems.join('; ');
  const what = round === 0 ? 'warm-up' : `round ${round}/${plan.rounds}`;
  const counted = result.accepted === undefined ? '' : `  accepted +${formatInt(result.accepted)}${result.accepted === messages ? ' (exact)' : ' (MISMATCH)'}`;
  const outcome = result.error === undefined ? `${formatInt(rate(messages, run.wallMs)).padStart(7)} msg/s` : `FAILED: ${result.error}`;
  const cpuText = `  ${cpuLine(cpu, ctx.cores)}`;
  ctx.log(`  ${MODE_LABEL[mode]}  ${what.padEnd(10)}  ${peer.name.padEnd(26)} ${formatInt(messages).padStart(7)} msgs  ${(run.wallMs / 1000).toFixed(2).padStart(6)} s  ${outcome}${cpuText}${counted}`);
  return result;
}

/** Both modes, rounds interleaved across the servers, each mode after one untimed warm-up per server. */
async function throughput(ctx: Ctx, peers: Peer[]): Promise<RunResult[]> {
  const runs: RunResult[] = [];
  for (const mode of MODE_ORDER) {
    ctx.log(`${MODE_LABEL[mode]}: ${mode === 'reuse' ? 'smtp-source -d, each session keeps its connection' : 'smtp-source without -d, a new connection per message'}`);
    for (const peer of peers) runs.push(await measure(ctx, peer, mode, 0, ctx.plan.warmup[mode][peer.id]));
    for (let round = 1; round <= ctx.plan.rounds; round++) {
      for (const peer of peers) runs.push(await measure(ctx, peer, mode, round, ctx.plan.counts[mode][peer.id]));
    }
  }
  return runs;
}

interface MemoryStep {
  result: MemoryResult;
  chunks: { messages: number; wallMs: number; cpu: CpuUse; error?: string }[];
}

/** A fresh sink with default settings, plan.memory.messages in mode A (in chunks), then VmHWM of its node process. */
async function memoryStep(ctx: Ctx, bundle: string): Promise<MemoryStep> {
  const { plan } = ctx;
  const total = plan.memory.messages;
  ctx.log(`memory: a fresh sink, ${formatInt(total)} messages in mode A, then VmHWM from /proc/<pid>/status`);
  const peer = await startOurs({ bundle });
  try {
    const accepted = peer.accepted;
    if (!accepted) throw new Error('our sink has no accepted counter');
    const before = await accepted();
    const chunks: MemoryStep['chunks'] = [];
    let wallMs = 0;
    let error: string | undefined;
    for (let sent = 0; sent < total && error === undefined; sent += plan.memory.chunk) {
      const messages = Math.min(plan.memory.chunk, total - sent);
      const cpuBefore = peer.cpu();
      const run = await runSmtpSource({ bin: ctx.tools.smtpSource, port: peer.smtpPort, messages, sessions: plan.sessions, size: plan.size, reuse: true, from: plan.from, to: plan.to, timeoutMs: plan.runTimeoutMs });
      const cpu = cpuBetween(cpuBefore, peer.cpu(), ctx.cores);
      wallMs += run.wallMs;
      chunks.push(run.error === undefined ? { messages, wallMs: run.wallMs, cpu } : { messages, wallMs: run.wallMs, cpu, error: run.error });
      if (run.error !== undefined) error = `smtp-source run ${chunks.length}: ${run.error}`;
      ctx.log(`  memory  ${formatInt(sent + messages).padStart(7)}/${formatInt(total)}  ${(run.wallMs / 1000).toFixed(2).padStart(6)} s  ${run.error === undefined ? `${formatInt(rate(messages, run.wallMs))} msg/s` : `FAILED: ${run.error}`}  ${cpuLine(cpu, ctx.cores)}  VmHWM so far ${(peer.memory().vmHwmBytes / MIB).toFixed(1)} MiB`);
    }
    const grown = (await accepted()) - before;
    const mem = peer.memory();
    const stats = await peer.stats?.();
    if (grown !== total) {
      process.stderr.write(`bench: MISMATCH: memory step: smtp-source sent ${formatInt(total)} messages but the sink's accepted counter grew by ${formatInt(grown)}\n`);
    }
    const result: MemoryResult = { messages: total, vmHwmBytes: mem.vmHwmBytes, vmRssBytes: mem.vmRssBytes, accepted: grown, wallMs };
    if (stats) result.reportedRssBytes = stats.memory.rss;
    if (typeof stats?.memory.heapUsed === 'number') result.reportedHeapUsedBytes = stats.memory.heapUsed;
    if (error !== undefined) result.error = error;
    return { result, chunks };
  } finally {
    await peer.stop();
  }
}

async function gitInfo(): Promise<{ commit: string; sinkDirty: boolean } | undefined> {
  const head = await execa('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, reject: false });
  if (head.exitCode !== 0) return undefined;
  const status = await execa('git', ['status', '--porcelain', '--', 'sinks/smtp-sink'], { cwd: ROOT, reject: false });
  return { commit: head.stdout.trim(), sinkDirty: status.stdout.trim() !== '' };
}

async function bench(opts: BenchOptions, log: Log): Promise<number> {
  const tools = requirePostfixTools();
  const maildev = requireMaildev(ROOT);
  const bundle = await ensureBundle(ROOT, log);
  const plan = makePlan(opts);
  const startedAt = new Date();
  const cpu = cpus();
  const ctx: Ctx = { plan, tools, log, cores: cpu.length };
  const load = () => loadavg().map((l) => Math.round(l * 100) / 100);
  const host = { cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', kernel: release(), node: process.version, loadavgAtStart: load(), loadavgAtEnd: [] as number[] };
  log(`host: ${host.cpus} CPUs (${host.cpuModel}), Linux ${host.kernel}, node ${host.node}, load average ${host.loadavgAtStart.join(' ')}`);
  log(`client: ${tools.smtpSource} -s ${plan.sessions} -l ${plan.size} -f ${plan.from} -t ${plan.to} [-d] -m N 127.0.0.1:PORT; ${plan.rounds} rounds per mode, interleaved${opts.quick ? '; --quick counts' : ''}`);

  // throughput: all three servers up, rounds interleaved ours, postfix, maildev, ours, ...
  const peers: Peer[] = [];
  let runs: RunResult[];
  const throughputPeakRss: Partial<Record<PeerId, number>> = {};
  try {
    peers.push(await startOurs({ bundle }));
    peers.push(await startPostfixSink({ bin: tools.smtpSink }));
    peers.push(await startMaildev(maildev));
    for (const p of peers) log(`started ${p.name}: pid ${p.pid}, SMTP 127.0.0.1:${p.smtpPort}`);
    runs = await throughput(ctx, peers);
    for (const p of peers) throughputPeakRss[p.id] = p.memory().vmHwmBytes;
  } finally {
    await Promise.all(peers.map((p) => p.stop()));
  }

  const memory = await memoryStep(ctx, bundle);

  host.loadavgAtEnd = load();
  log(`load average at the end: ${host.loadavgAtEnd.join(' ')} (other work on this machine skews the numbers)`);
  const names = Object.fromEntries(peers.map((p) => [p.id, p.name])) as Record<PeerId, string>;
  const input: BenchInput = { runs, memory: memory.result, names, targets: ISSUE_TARGETS, throughputPeakRss };
  const summary = summarize(input, { quick: opts.quick });
  const report = {
    benchmark: 'mailkind smtp-sink vs postfix smtp-sink vs maildev, driven by postfix smtp-source',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    host,
    git: await gitInfo(),
    options: opts,
    plan,
    peerOrder: PEER_ORDER,
    names,
    targets: ISSUE_TARGETS,
    runs: runs.map((r) => ({ ...r, msgPerSec: r.error === undefined ? Math.round(rate(r.messages, r.wallMs)) : null })),
    memory: { ...memory.result, chunks: memory.chunks },
    throughputPeakRss,
    rows: summary.rows,
    verdicts: summary.verdicts,
    ok: summary.ok,
    checksOk: summary.checksOk,
  };
  const reportPath = join(ROOT, REPORT_FILE);
  mkdirSync(dirname(reportPath), { recursive: true });
  writeFileSync(reportPath, JSON.stringify(report, null, 2) + '\n');

  if (opts.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    const text = formatReport(input, summary);
    process.stdout.write(`\n${text}\n\nJSON report: ${REPORT_FILE}\n`);
    const failedTargets = summary.verdicts.filter((v) => !v.pass && v.kind === 'target' && v.skipped === undefined).length;
    const skippedTargets = summary.verdicts.filter((v) => v.skipped !== undefined).length;
    if (!summary.checksOk) process.stdout.write('RESULT: the measurement itself failed a check (see [check] lines): exit 1 whatever --no-fail says\n');
    else if (failedTargets > 0) process.stdout.write(`RESULT: ${failedTargets} target(s) failed${opts.failOnTargets ? '' : ' (--no-fail: exit 0)'}\n`);
    else if (skippedTargets > 0) process.stdout.write(`RESULT: the checks passed; ${skippedTargets} target(s) not judged (SKIP lines say why)\n`);
    else process.stdout.write('RESULT: every target met\n');
  }
  if (!summary.checksOk) return 1;
  return summary.ok || !opts.failOnTargets ? 0 : 1;
}

// exit explicitly: idle keep-alive sockets must not hold the process; the exit hook kills any child left
process.exit(await benchMain(process.argv.slice(2), USAGE, bench));

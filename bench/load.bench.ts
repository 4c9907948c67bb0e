// npm run bench (second part), or npm run bench:load: the load generator's SMTP mode against the
// project's sink and postfix's smtp-sink, side by side with postfix's smtp-source as the peer client
// in the same run: same message size, 20 sessions, connection reuse, interleaved rounds, medians.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import type { LoadSummary } from '../scripts/lib/load/report.js';
import { formatLoadTable, formatLoadVerdicts, LOAD_TARGET_RATIO, runRate, SERVER_ORDER, summarizeLoadBench, type ClientId, type LoadRun, type ServerId } from './lib/load-verdicts.js';
import { benchMain, type Log } from './lib/main.js';
import type { BenchOptions } from './lib/options.js';
import { startOurs, startPostfixSink, type Peer } from './lib/peers.js';
import { cpuBetween, track } from './lib/procs.js';
import { ensureBundle, requirePostfixTools, type PostfixTools } from './lib/setup.js';
import { runSmtpSource } from './lib/smtp-source.js';
import { formatInt } from './lib/verdicts.js';

const ROOT = resolve(import.meta.dirname, '..');
const REPORT_FILE = 'reports/bench-load.json';

export const LOAD_USAGE = `Usage: npm run bench:load -- [options]   (npm run bench runs it after the sink benchmark)

The load generator's SMTP mode (npm run load -- --max) and postfix's smtp-source, each sending the
same number of messages of the same size over 20 reused connections, to the mailkind sink and to
postfix's smtp-sink on 127.0.0.1; rounds interleaved (server by server, the clients alternating
which goes first), medians compared. Target: the load generator reaches >= ${LOAD_TARGET_RATIO}x smtp-source's rate
against each server.

Options:
  --rounds N   timed rounds per server and client (default 3, at most 20)
  --quick      small message counts: a smoke run of the benchmark itself
  --json       print only the JSON report (also written to ${REPORT_FILE})
  --no-fail    exit 0 even when the target is missed (a broken measurement still exits 1)
  -h, --help   this text

Exit codes: 0 all good, 1 a target or check failed, 2 bad usage or a missing prerequisite.`;

const SESSIONS = 20;
const PAYLOAD = 1024;
const FROM = 'bench@source.test';
const TO = 'sink@bench.test';
const RUN_TIMEOUT_MS = 120_000;


interface Ctx {
  tools: PostfixTools;
  cores: number;
  /** whole-message size of smtp-source's messages: the load generator sends the same */
  size: number;
  log: Log;
}

/** smtp-source's message for `-l PAYLOAD` as the sink records it (headers included). */
async function smtpSourceMessageSize(tools: PostfixTools, ours: Peer): Promise<number> {
  const run = await runSmtpSource({ bin: tools.smtpSource, port: ours.smtpPort, messages: 1, sessions: 1, size: PAYLOAD, reuse: true, from: FROM, to: TO, timeoutMs: 10_000 });
  if (run.error !== undefined) throw new Error(`smtp-source could not send one message to our sink: ${run.error}`);
  const res = await fetch(`${ours.apiUrl ?? ''}/api/messages?limit=1`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { messages?: { size?: number }[] };
  const size = body.messages?.[0]?.size;
  if (typeof size !== 'number') throw new Error('our sink did not record the size of smtp-source\'s message');
  return size;
}

/** One run of the load generator as its own process, like smtp-source: `npm run load -- --max --json`. */
async function runLoadGenerator(ctx: Ctx, port: number, messages: number, run: string): Promise<{ ms: number; processMs: number; summary?: LoadSummary; error?: string }> {
  const args = ['--import', 'tsx', 'scripts/load.ts', '--target', `127.0.0.1:${port}`, '--max', '--concurrency', String(SESSIONS), '--count', String(messages), '--size', String(ctx.size), '--mix', TO, '--from', FROM, '--run', run, '--json'];
  const started = performance.now();
  const r = await track(execa(process.execPath, args, { cwd: ROOT, reject: false, timeout: RUN_TIMEOUT_MS, stdin: 'ignore', extendEnv: true, env: { CI: 'true' } }));
  const processMs = performance.now() - started;
  if (r.exitCode !== 0) return { ms: processMs, processMs, error: `exit ${r.exitCode ?? r.signal ?? '?'}: ${String(r.stderr).trim().split('\n').at(-1) ?? ''}` };
  let summary: LoadSummary;
  try {
    summary = JSON.parse(String(r.stdout)) as LoadSummary;
  } catch {
    return { ms: processMs, processMs, error: 'its --json output is not JSON' };
  }
  const errors = Object.values(summary.messages.errors).reduce((a, b) => a + b, 0);
  const problems = summary.messages.accepted !== messages || errors > 0 ? `accepted ${summary.messages.accepted} of ${messages}, ${errors} error(s)` : undefined;
  return { ms: summary.elapsedMs, processMs, summary, ...(problems ? { error: problems } : {}) };
}

async function measure(ctx: Ctx, peer: Peer & { id: ServerId }, client: ClientId, round: number, messages: number): Promise<LoadRun> {
  const before = peer.accepted ? await peer.accepted() : undefined;
  const cpuBefore = peer.cpu();
  const result: LoadRun = { server: peer.id, client, round, messages, ms: 0 };
  if (client === 'smtp-source') {
    const r = await runSmtpSource({ bin: ctx.tools.smtpSource, port: peer.smtpPort, messages, sessions: SESSIONS, size: PAYLOAD, reuse: true, from: FROM, to: TO, timeoutMs: RUN_TIMEOUT_MS });
    result.ms = r.wallMs;
    if (r.error !== undefined) result.error = r.error;
  } else {
    const r = await runLoadGenerator(ctx, peer.smtpPort, messages, `bench-${peer.id}-${round}`);
    result.ms = r.ms;
    result.processMs = r.processMs;
    if (r.summary) {
      result.clientAccepted = r.summary.messages.accepted;
      result.clientErrors = Object.values(r.summary.messages.errors).reduce((a, b) => a + b, 0);
    }
    if (r.error !== undefined) result.error = r.error;
  }
  const cpu = cpuBetween(cpuBefore, peer.cpu(), ctx.cores);
  // the client has exited and been reaped: its CPU is in the reaped-children ticks
  result.cpu = { serverCores: cpu.serverCores, clientCores: cpu.sourceCores, otherCores: cpu.otherCores };
  if (peer.accepted && before !== undefined) result.serverAccepted = (await peer.accepted()) - before;
  const what = round === 0 ? 'warm-up' : `round ${round}`;
  const outcome = result.error === undefined ? `${formatInt(runRate(result)).padStart(7)} msg/s` : `FAILED: ${result.error}`;
  const startup = result.processMs === undefined ? '' : ` (${formatInt(messages / (result.processMs / 1000))} msg/s with node's start-up)`;
  ctx.log(`  ${what.padEnd(8)}  ${peer.name.padEnd(26)} ${client.padEnd(11)} ${formatInt(messages).padStart(7)} msgs  ${(result.ms / 1000).toFixed(2).padStart(6)} s  ${outcome}${startup}  cores: client ${cpu.sourceCores.toFixed(2)}, server ${cpu.serverCores.toFixed(2)}, other ${cpu.otherCores.toFixed(2)}`);
  return result;
}

async function bench(opts: BenchOptions, log: Log): Promise<number> {
  const tools = requirePostfixTools();
  const bundle = await ensureBundle(ROOT, log);
  // the load generator is a fresh node process per run: below ~10,000 messages its JIT warm-up dominates
  const counts = opts.quick ? { timed: 10_000, warmup: 1_000 } : { timed: 40_000, warmup: 2_000 };
  const load = () => loadavg().map((l) => Math.round(l * 100) / 100);
  const cpu = cpus();
  const host = { cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', kernel: release(), node: process.version, loadavgAtStart: load(), loadavgAtEnd: [] as number[] };
  log(`host: ${host.cpus} CPUs (${host.cpuModel}), Linux ${host.kernel}, node ${host.node}, load average ${host.loadavgAtStart.join(' ')}`);
  const peers: (Peer & { id: ServerId })[] = [];
  const runs: LoadRun[] = [];
  let size: number | undefined;
  const startedAt = new Date();
  try {
    peers.push((await startOurs({ bundle })) as Peer & { id: ServerId });
    peers.push((await startPostfixSink({ bin: tools.smtpSink })) as Peer & { id: ServerId });
    const ours = peers[0];
    if (!ours) throw new Error('our sink did not start');
    size = await smtpSourceMessageSize(tools, ours);
    const ctx: Ctx = { tools, cores: cpu.length, size, log };
    log(`clients: smtp-source -s ${SESSIONS} -l ${PAYLOAD} -d (messages of ${size} bytes) and npm run load -- --max --concurrency ${SESSIONS} --size ${size}; ${opts.rounds} rounds of ${formatInt(counts.timed)} messages`);
    for (const peer of peers) for (const client of ['smtp-source', 'load'] as const) runs.push(await measure(ctx, peer, client, 0, counts.warmup));
    for (let round = 1; round <= opts.rounds; round++) {
      // alternate which client goes first, so neither always meets a server fresh from the other
      const order: ClientId[] = round % 2 === 1 ? ['smtp-source', 'load'] : ['load', 'smtp-source'];
      for (const peer of peers) for (const client of order) runs.push(await measure(ctx, peer, client, round, counts.timed));
    }
  } finally {
    await Promise.all(peers.map((p) => p.stop()));
  }
  host.loadavgAtEnd = load();
  log(`load average at the end: ${host.loadavgAtEnd.join(' ')} (other work on this machine skews the numbers)`);
  const names = Object.fromEntries(SERVER_ORDER.map((id) => [id, peers.find((p) => p.id === id)?.name ?? id])) as Record<ServerId, string>;
  const summary = summarizeLoadBench(runs, names, { quick: opts.quick });
  const report = {
    benchmark: "mailkind load generator (SMTP) vs postfix smtp-source, against the mailkind sink and postfix smtp-sink",
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    host,
    options: opts,
    plan: { sessions: SESSIONS, payload: PAYLOAD, messageSize: size ?? null, messagesPerRound: counts.timed, warmup: counts.warmup, rounds: opts.rounds },
    note: "rates: smtp-source from its process wall time; the load generator from its own sending time (first connection to last reply), its process time with node's start-up alongside",
    names,
    runs: runs.map((r) => ({ ...r, msgPerSec: r.error === undefined ? Math.round(runRate(r)) : null })),
    rows: summary.rows,
    ratios: summary.ratios,
    verdicts: summary.verdicts,
    ok: summary.ok,
    checksOk: summary.checksOk,
  };
  const path = join(ROOT, REPORT_FILE);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(report, null, 2) + '\n');
  if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else {
    process.stdout.write(`\n${formatLoadTable(summary, names)}\n\nload average: ${host.loadavgAtStart.join(' ')} at the start, ${host.loadavgAtEnd.join(' ')} at the end\n\ntargets:\n${formatLoadVerdicts(summary.verdicts)}\n\nJSON report: ${REPORT_FILE}\n`);
  }
  if (!summary.checksOk) return 1;
  return summary.ok || !opts.failOnTargets ? 0 : 1;
}

process.exit(await benchMain(process.argv.slice(2), LOAD_USAGE, bench));

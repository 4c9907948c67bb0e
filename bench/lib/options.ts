// Command line (node:util parseArgs) and the run plan: message counts per server and mode.
import { parseArgs } from 'node:util';
import type { Mode, PeerId } from './verdicts.js';

export const USAGE = `Usage: npm run bench:sink -- [options]   (npm run bench runs it first)

Compares the mailkind smtp-sink with postfix's smtp-sink and maildev, all driven by postfix's
smtp-source (20 sessions, 1 KB messages) on 127.0.0.1: mode A reuses connections (-d), mode B
opens a new connection per message. Rounds are interleaved (ours, postfix, maildev, ours, ...).
Then 200,000 messages go into a fresh sink to read its peak RSS (VmHWM).

Options:
  --rounds N   timed rounds per mode and server (default 3, at most 20)
  --quick      small message counts: a smoke run of the benchmark itself
  --json       print only the JSON report (also written to reports/bench-sink.json)
  --no-fail    exit 0 even when a performance target fails (a broken measurement still exits 1:
               a failed smtp-source run, or the sink's accepted counter off by even one)
  -h, --help   this text

Exit codes: 0 all good, 1 a target or check failed, 2 bad usage or a missing prerequisite.`;

/** `npm run bench -- --help`: one "Usage:" line (its own), then each benchmark's help under its name, minus that help's usage line. */
export function benchHelp(parts: { name: string; file: string; text: string }[]): string {
  const head = 'Usage: npm run bench -- [--only sink|load] [options]\n\nRuns the benchmarks below one after the other, each with the same options; --only runs one.\n';
  return head + parts.map(({ name, file, text }) => `\n== ${name} (npm run bench:${name}, ${file})\n${text.replace(/^Usage:.*\n+/m, '').trimEnd()}\n`).join('');
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface BenchOptions {
  rounds: number;
  quick: boolean;
  json: boolean;
  /** false with --no-fail. */
  failOnTargets: boolean;
  help: boolean;
}

export const MAX_ROUNDS = 20;

export function parseBenchArgs(argv: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        rounds: { type: 'string' },
        quick: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        'no-fail': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  let rounds = 3;
  if (values.rounds !== undefined) {
    rounds = Number(values.rounds);
    if (!/^\d+$/.test(values.rounds) || rounds < 1 || rounds > MAX_ROUNDS) {
      throw new UsageError(`--rounds takes a whole number from 1 to ${MAX_ROUNDS}, not "${values.rounds}"`);
    }
  }
  return { rounds, quick: values.quick, json: values.json, failOnTargets: !values['no-fail'], help: values.help };
}

export interface Plan {
  rounds: number;
  sessions: number;
  /** Payload bytes per message. */
  size: number;
  from: string;
  to: string;
  /** Messages per timed round. */
  counts: Record<Mode, Record<PeerId, number>>;
  /** Messages of the untimed warm-up run each server gets before a mode's rounds. */
  warmup: Record<Mode, Record<PeerId, number>>;
  /** The memory step: total messages, sent as smtp-source runs of `chunk` (each under the time limit). */
  memory: { messages: number; chunk: number };
  /** Any smtp-source run is killed after this. */
  runTimeoutMs: number;
}

/**
 * Counts sized so one round takes a few seconds on a laptop. maildev is far slower (it parses and
 * writes every message to disk, and looks up every client's name in DNS), so it gets fewer.
 */
export function makePlan(o: Pick<BenchOptions, 'rounds' | 'quick'>): Plan {
  const full = {
    counts: { reuse: { ours: 40_000, postfix: 40_000, maildev: 10_000 }, 'per-message': { ours: 10_000, postfix: 10_000, maildev: 1_000 } },
    warmup: { reuse: { ours: 2_000, postfix: 2_000, maildev: 500 }, 'per-message': { ours: 500, postfix: 500, maildev: 100 } },
    memory: { messages: 200_000, chunk: 50_000 },
  };
  const quick = {
    counts: { reuse: { ours: 4_000, postfix: 4_000, maildev: 1_000 }, 'per-message': { ours: 1_000, postfix: 1_000, maildev: 200 } },
    warmup: { reuse: { ours: 200, postfix: 200, maildev: 100 }, 'per-message': { ours: 100, postfix: 100, maildev: 20 } },
    memory: { messages: 20_000, chunk: 20_000 },
  };
  return {
    rounds: o.rounds,
    sessions: 20,
    size: 1024,
    from: 'bench@source.test',
    to: 'sink@bench.test',
    ...(o.quick ? quick : full),
    runTimeoutMs: 120_000,
  };
}

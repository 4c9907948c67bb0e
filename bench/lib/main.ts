// What every benchmark entry point does around its measurement: parse the shared options, print
// usage, kill children on exit or a signal, turn failures into an exit code (2: setup, 1: failed).
import { parseBenchArgs, UsageError, type BenchOptions } from './options.js';
import { installCleanup } from './procs.js';
import { BenchSetupError } from './setup.js';

export type Log = (line: string) => void;

export async function benchMain(argv: string[], usage: string, bench: (opts: BenchOptions, log: Log) => Promise<number>): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`bench: ${e.message}\n\n${usage}\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const log: Log = opts.json ? () => {} : (line) => process.stderr.write(`${line}\n`);
  installCleanup((signal) => process.stderr.write(`\nbench: ${signal}: stopping every server and client\n`));
  try {
    return await bench(opts, log);
  } catch (e) {
    if (e instanceof BenchSetupError) {
      process.stderr.write(`bench: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`bench: failed: ${e instanceof Error ? e.message : String(e)}\n`);
    if (process.env.BENCH_DEBUG) process.stderr.write(`${e instanceof Error ? (e.stack ?? '') : ''}\n`);
    return 1;
  }
}

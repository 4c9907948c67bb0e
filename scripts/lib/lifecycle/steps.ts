// Small, named, idempotent steps, each reporting its outcome and duration (the way kind creates
// a cluster). On a terminal a live task list (listr2); in CI or with --verbose, plain timestamped
// lines that read well in a log.
import { Listr } from 'listr2';

export interface StepOutput {
  /** a progress line under the step ("pulling 3 images") */
  note(text: string): void;
}

export interface Step<C> {
  /** stable id, used in tests and the timing table */
  name: string;
  title: string;
  /** resolves to what happened ("created", "reused", "unchanged"); a `Skip` marks it skipped */
  run(ctx: C, out: StepOutput): Promise<string | Skip | void>;
}

/** A step that had nothing to do for a reason the user should see (a profile, a flag). */
export class Skip {
  constructor(readonly reason: string) {}
}

export interface StepReport {
  name: string;
  title: string;
  status: 'done' | 'skipped' | 'failed';
  detail: string;
  ms: number;
}

export type RendererKind = 'tty' | 'plain' | 'silent';

export function chooseRenderer(opts: { ci: boolean; verbose: boolean; isTTY: boolean }): RendererKind {
  return opts.isTTY && !opts.ci && !opts.verbose ? 'tty' : 'plain';
}

export interface RunStepsOptions {
  renderer: RendererKind;
  /** where plain lines go */
  write?: (line: string) => void;
  now?: () => number;
  clock?: () => Date;
}

/** Runs one step and measures it; rethrows its error after recording the failure. */
async function execute<C>(step: Step<C>, ctx: C, out: StepOutput, now: () => number, reports: StepReport[]): Promise<StepReport> {
  const started = now();
  try {
    const result = await step.run(ctx, out);
    const report: StepReport =
      result instanceof Skip
        ? { name: step.name, title: step.title, status: 'skipped', detail: result.reason, ms: now() - started }
        : { name: step.name, title: step.title, status: 'done', detail: result ?? 'done', ms: now() - started };
    reports.push(report);
    return report;
  } catch (err) {
    reports.push({ name: step.name, title: step.title, status: 'failed', detail: err instanceof Error ? err.message : String(err), ms: now() - started });
    throw err;
  }
}

function stamp(d: Date): string {
  return d.toISOString().slice(11, 19);
}

export function formatDuration(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : ms < 120_000 ? `${Math.round(ms / 1000)}s` : `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

/**
 * Runs the steps in order and returns one report per step run. The first failure stops the run:
 * its error is rethrown (after the failing step is reported) with `reports` attached.
 */
export async function runSteps<C>(steps: readonly Step<C>[], ctx: C, opts: RunStepsOptions): Promise<StepReport[]> {
  const now = opts.now ?? (() => performance.now());
  const clock = opts.clock ?? (() => new Date());
  const write = opts.write ?? ((l: string) => process.stdout.write(`${l}\n`));
  const reports: StepReport[] = [];
  try {
    if (opts.renderer === 'tty') {
      await new Listr(
        steps.map((step) => ({
          title: step.title,
          task: async (_: unknown, task) => {
            const r = await execute(step, ctx, { note: (t) => (task.output = t) }, now, reports);
            if (r.status === 'skipped') task.skip(`${step.title}: ${r.detail}`);
            else task.title = `${step.title}: ${r.detail} (${formatDuration(r.ms)})`;
          },
        })),
        { exitOnError: true, rendererOptions: { collapseErrors: false } },
      ).run();
    } else {
      for (const step of steps) {
        if (opts.renderer === 'plain') write(`${stamp(clock())} > ${step.title}`);
        const out: StepOutput = { note: (t) => opts.renderer === 'plain' && write(`${stamp(clock())}   ${t}`) };
        const r = await execute(step, ctx, out, now, reports);
        if (opts.renderer === 'plain') write(`${stamp(clock())} ${r.status === 'skipped' ? '-' : 'ok'} ${step.title}: ${r.detail} (${formatDuration(r.ms)})`);
      }
    }
  } catch (err) {
    const failed = reports.at(-1);
    if (opts.renderer === 'plain' && failed?.status === 'failed') write(`${stamp(clock())} FAILED ${failed.title} (${formatDuration(failed.ms)})`);
    if (err instanceof Error) Object.assign(err, { reports });
    throw err;
  }
  return reports;
}

/** The timing table printed at the end of `up`. */
export function timingTable(reports: readonly StepReport[]): string[] {
  const w = Math.max(4, ...reports.map((r) => r.name.length));
  const total = reports.reduce((s, r) => s + r.ms, 0);
  return [
    `${'step'.padEnd(w)}  ${'time'.padStart(7)}  result`,
    ...reports.map((r) => `${r.name.padEnd(w)}  ${formatDuration(r.ms).padStart(7)}  ${r.status === 'skipped' ? `skipped: ${r.detail}` : r.detail}`),
    `${'total'.padEnd(w)}  ${formatDuration(total).padStart(7)}`,
  ];
}

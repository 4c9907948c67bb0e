// What every scenario file shares: the runtime config the global setup resolved (vitest
// provide/inject, so credentials are never re-read or printed), the clients, a run id per scenario,
// per-step deadlines, cleanups that always run, and diagnostics when a scenario fails.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject, it, onTestFinished } from 'vitest';
import type { InjectEndpoint } from '../../../scripts/lib/clients/kumo-inject.js';
import { MailmanRest } from '../../../scripts/lib/clients/mailman-rest.js';
import { SinkClient } from '../../../scripts/lib/clients/sink-client.js';
import { Cluster } from './cluster.js';
import { timeoutEnvName, type StepName } from './config.js';
import { collectDiagnostics } from './diagnostics.js';
import { skipWithout, unproven } from '../../helpers/prerequisites.js';
import type { E2eRuntime } from './preflight.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mailkindE2e: E2eRuntime;
  }
}

export interface Suite {
  cfg: E2eRuntime;
  cluster: Cluster;
  sink: SinkClient;
  kumo: InjectEndpoint;
  /** null in the minimal profile */
  mailman: MailmanRest | null;
}

let cached: Suite | undefined;

export function suite(): Suite {
  if (cached) return cached;
  const cfg = inject('mailkindE2e');
  if (!cfg) throw new Error('the e2e global setup did not run: use `npm run e2e` (vitest run -c vitest.e2e.config.ts)');
  cached = {
    cfg,
    cluster: new Cluster({ kubectl: cfg.kubectl, context: cfg.context, namespace: cfg.namespace, timeoutMs: cfg.timeouts.kubectl }),
    sink: new SinkClient(cfg.urls.sink),
    kumo: { baseUrl: cfg.urls.kumo, username: cfg.kumoAuth.username, password: cfg.kumoAuth.password },
    mailman: cfg.mailmanAuth ? new MailmanRest({ baseUrl: cfg.urls.mailman, username: cfg.mailmanAuth.username, password: cfg.mailmanAuth.password }) : null,
  };
  return cached;
}

/** e2e-<slug>-<time>-<random>: unique per scenario run, safe in a mail local part and a list name. */
export function runId(slug: string, now = Date.now()): string {
  const clean = slug.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 20) || 'run';
  return `e2e-${clean}-${now.toString(36)}-${randomBytes(4).toString('hex')}`;
}

/**
 * Runs fn with the step's deadline (its own waits get the same number, so they usually report
 * first, with what they saw); a step that hangs anyway fails naming the step and its variable.
 */
export async function step<T>(cfg: Pick<E2eRuntime, 'timeouts'>, name: StepName, fn: (timeoutMs: number) => Promise<T>): Promise<T> {
  const ms = cfg.timeouts[name];
  let timer: NodeJS.Timeout | undefined;
  const overdue = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`step "${name}" did not finish within ${ms} ms; raise ${timeoutEnvName(name)} if the cluster is just slow`)),
      ms + 5_000,
    );
  });
  try {
    return await Promise.race([fn(ms), overdue]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `probe` until it returns a value other than undefined: for conditions nothing can
 * long-poll (kumod's log, a pod's state). The pause is between checks, never instead of one.
 */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, everyMs = 1_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface ScenarioContext extends Suite {
  run: string;
  /** registered cleanups run after the scenario, passed or failed, newest first */
  cleanup: (what: string, fn: () => Promise<unknown>) => void;
  /** extra lines for the diagnostics (e.g. the list's held messages) */
  note: (line: string) => void;
  /**
   * Part of the scenario's claim could not be exercised on this stack (e.g. one kumod replica where
   * sharing needs two). Call it after every check that could run: the scenario then ends as
   * skipped with the reason, repeated at the end of the run, or fails under MAILKIND_REQUIRE_ALL.
   */
  unproven: (reason: string, fix: string) => void;
}

export interface ScenarioOptions {
  slug: string;
  /** components whose pods the diagnostics describe and tail */
  components: string[];
  skip?: string | false;
}

/** One scenario = one test with its own run id; on failure the output carries diagnostics. */
export function scenario(title: string, o: ScenarioOptions, body: (ctx: ScenarioContext) => Promise<void>): void {
  if (o.skip) {
    // reported at the end; a failing test instead under MAILKIND_REQUIRE_ALL
    skipWithout({ what: `e2e scenario "${title}"`, reason: o.skip, fix: 'run the suite against the full profile (npm run up; MAILKIND_PROFILE unset)' });
    it.skip(`${title} (skipped: ${o.skip})`, () => {});
    return;
  }
  it(title, async (context) => {
    let notProven: { reason: string; fix: string } | undefined;
    const s = suite();
    const run = runId(o.slug);
    const notes: string[] = [];
    const cleanups: [string, () => Promise<unknown>][] = [];
    onTestFinished(async () => {
      if (s.cfg.keep) {
        if (cleanups.length) console.log(`MAILKIND_E2E_KEEP=1: not cleaning up ${cleanups.map(([w]) => w).join(', ')} of run ${run}`);
        return;
      }
      const failures: string[] = [];
      for (const [what, fn] of cleanups.reverse()) {
        await fn().catch((e: Error) => failures.push(`${what}: ${e.message}`));
      }
      if (failures.length) throw new Error(`cleanup of run ${run} failed:\n  ${failures.join('\n  ')}`);
    });
    console.log(`run ${run}`);
    try {
      await body({
        ...s,
        run,
        cleanup: (what, fn) => cleanups.push([what, fn]),
        note: (l) => notes.push(l),
        unproven: (reason, fix) => {
          unproven({ what: `e2e scenario "${title}"`, reason, fix });
          notProven ??= { reason, fix };
        },
      });
    } catch (e) {
      const diagnostics = await collectDiagnostics(s.cluster, { components: o.components, sink: s.sink, run }).catch(
        (d: Error) => `(diagnostics failed: ${d.message})`,
      );
      const text = [`scenario "${title}", run ${run}`, `error: ${(e as Error).message}`, ...notes, diagnostics].join('\n');
      const dir = join(s.cfg.reportsDir, 'e2e-diagnostics');
      const file = join(dir, `${o.slug}.txt`);
      try {
        mkdirSync(dir, { recursive: true });
        writeFileSync(file, text + '\n');
      } catch {
        // the console copy below still carries everything
      }
      console.error(`\n===== diagnostics for "${title}" (also in ${file})\n${text}\n===== end of diagnostics\n`);
      if (e instanceof Error) e.message += `\n(run ${run}; diagnostics above and in ${file})`;
      throw e;
    }
    // every check that could run passed; the rest of the claim was not exercised: say so
    if (notProven) context.skip(`not proven: ${notProven.reason}`);
  });
}

/**
 * No message of `run` beyond the `expected` ones arrives within the `quiet` step: waits (long-poll,
 * no sleep) for one more and expects it not to come.
 */
export async function expectNoMore(cfg: Pick<E2eRuntime, 'timeouts'>, sink: { waitForCount(run: string, count: number, timeoutMs: number): Promise<{ reached: boolean; count: number }> }, run: string, expected: number): Promise<void> {
  const extra = await step(cfg, 'quiet', (ms) => sink.waitForCount(run, expected + 1, ms));
  if (extra.reached || extra.count !== expected) {
    throw new Error(`${extra.count} messages of run ${run} at the sink, expected exactly ${expected}: a late duplicate arrived within ${cfg.timeouts.quiet} ms`);
  }
}

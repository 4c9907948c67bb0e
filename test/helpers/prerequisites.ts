// One way for a test file to say "this needs a program that is not here". On a developer's
// machine the tests are skipped with the reason and the command that provisions it; with
// MAILKIND_REQUIRE_ALL=1 (set by .ci/run) a missing prerequisite is a failing test instead, so CI
// cannot go green with a tier quietly skipped. Each miss is also appended to a file that the
// end-of-run reporter (test/helpers/skip-reporter.ts) repeats after vitest's summary.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * Where misses are collected during one run (the reporter empties it at the start);
 * MAILKIND_MISSES_FILE moves it (the test of this helper runs a nested vitest).
 */
export const MISSES_FILE = process.env.MAILKIND_MISSES_FILE || join(ROOT, 'reports/.prerequisite-misses.jsonl');

export interface Miss {
  /** What is skipped, e.g. "test/cluster (the control-plane tier)". */
  what: string;
  /** Why, e.g. "kube-apiserver not found in .cache/bin". */
  reason: string;
  /** The command that provisions it, e.g. "bash scripts/provision/kubernetes.sh". */
  fix: string;
  /** 'skipped' (default): the tests did not run; 'checked less': they ran with a fallback. */
  effect?: 'skipped' | 'checked less';
}

export function requireAll(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.MAILKIND_REQUIRE_ALL === '1' || env.MAILKIND_REQUIRE_ALL === 'true';
}

/**
 * Returns true when the tests depending on it must be skipped (use with describe.skipIf).
 * `missing` is undefined when everything is there. Under MAILKIND_REQUIRE_ALL the miss becomes
 * a failing test named after it, and this still returns true so the dependent tests do not run
 * half-provisioned.
 */
export function skipWithout(missing: Miss | undefined): boolean {
  if (!missing) return false;
  record(missing);
  if (requireAll()) {
    it(`prerequisite: ${missing.what}`, () => {
      throw new Error(`${missing.reason}; MAILKIND_REQUIRE_ALL is set, so this is a failure, not a skip. Fix: ${missing.fix}`);
    });
  } else {
    console.warn(`skipping ${missing.what}: ${missing.reason} (fix: ${missing.fix})`);
  }
  return true;
}

/**
 * For tests that still run without the prerequisite but check less (a fallback), decided while
 * the file is collected: reported like a skip at the end; under MAILKIND_REQUIRE_ALL a failing
 * test named after it. Returns true when the fallback is in use.
 */
export function fallbackWithout(missing: Miss | undefined): boolean {
  if (!missing) return false;
  const miss: Miss = { ...missing, effect: 'checked less' };
  record(miss);
  if (requireAll()) {
    it(`prerequisite: ${miss.what}`, () => {
      throw new Error(`${miss.reason}; MAILKIND_REQUIRE_ALL is set, so this fallback is a failure. Fix: ${miss.fix}`);
    });
  } else {
    console.warn(`${miss.what} checks less: ${miss.reason} (fix: ${miss.fix})`);
  }
  return true;
}

/**
 * The same, found out inside a running test (e.g. a cluster with one replica where the claim
 * needs two): under MAILKIND_REQUIRE_ALL it throws, failing that test; otherwise the miss is
 * reported at the end and the caller decides how to mark the test (e.g. context.skip(reason)).
 */
export function unproven(missing: Miss): void {
  const miss: Miss = { ...missing, effect: 'checked less' };
  record(miss);
  if (requireAll()) throw new Error(`${miss.what}: ${miss.reason}; MAILKIND_REQUIRE_ALL is set, so this is a failure. Fix: ${miss.fix}`);
  console.warn(`${miss.what} not proven: ${miss.reason} (fix: ${miss.fix})`);
}

function record(miss: Miss): void {
  try {
    mkdirSync(dirname(MISSES_FILE), { recursive: true });
    appendFileSync(MISSES_FILE, JSON.stringify(miss) + '\n');
  } catch {
    // the summary is a convenience; the skip or failure itself is what counts
  }
}

// Repeats, after vitest's own summary, every prerequisite that made tests skip or check less (or
// fail under MAILKIND_REQUIRE_ALL) with the command that provisions it, and the skipped tests per
// file, so a skip no prerequisite explains (a stray it.skip) shows too: the reasons otherwise
// scroll away at the top of a long run.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter } from 'vitest/reporters';
import type { TestModule } from 'vitest/node';
import { MISSES_FILE, type Miss } from './prerequisites.js';

/** The part of vitest's TestModule the counts read (vitest 4 reporter API: state(), children.allTests(state)). */
export type CountedModule = Pick<TestModule, 'state'> & { children: { allTests(state: 'skipped'): Iterable<unknown> } };

/**
 * Skipped tests and files, counted as vitest's own summary counts them ("Test Files ... | N
 * skipped": files whose every test was skipped; "Tests ... | N skipped": every skipped or todo test).
 */
export function skipCounts(modules: readonly CountedModule[]): { tests: number; files: number } {
  let tests = 0;
  let files = 0;
  for (const m of modules) {
    tests += [...m.children.allTests('skipped')].length;
    if (m.state() === 'skipped') files++;
  }
  return { tests, files };
}

/** [file, skipped tests] for every file with at least one skipped test, paths relative to the cwd. */
export function skippedPerFile(modules: readonly (CountedModule & { moduleId: string })[]): [string, number][] {
  return modules
    .map((m): [string, number] => [relative(process.cwd(), m.moduleId), [...m.children.allTests('skipped')].length])
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => a.localeCompare(b));
}

export function skipSummary(counts: { tests: number; files: number }, misses: readonly Miss[], perFile: readonly [string, number][] = []): string[] {
  if (counts.tests === 0 && misses.length === 0) return [];
  const lines = ['', `Skipped: ${counts.tests} test(s), ${counts.files} whole file(s) (the "skipped" counts above)${perFile.length ? ', in:' : '.'}`];
  for (const [file, n] of perFile) lines.push(`  - ${file}: ${n}`);
  if (misses.length > 0) {
    lines.push(`Prerequisites missing on this machine (${misses.length}); their tests did not run or checked less:`);
    for (const miss of misses) lines.push(`  - ${miss.what}${miss.effect === 'checked less' ? ' (checked less)' : ''}: ${miss.reason}\n      fix: ${miss.fix}`);
    lines.push('  (.ci/run provisions all of them and sets MAILKIND_REQUIRE_ALL=1, which turns each into a failure)');
  }
  if (counts.tests > 0) lines.push('  Other skips print their reason and fix where their file starts (search the output for "skipped").');
  return lines;
}

export default class SkipReporter implements Reporter {
  onInit(): void {
    rmSync(MISSES_FILE, { force: true });
  }

  onTestRunEnd(testModules: readonly TestModule[] = []): void {
    const seen = new Map<string, Miss>();
    if (existsSync(MISSES_FILE)) {
      for (const line of readFileSync(MISSES_FILE, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const miss = JSON.parse(line) as Miss;
          seen.set(`${miss.what}\0${miss.reason}`, miss);
        } catch {
          // a torn line from a worker killed mid-write: skip it
        }
      }
    }
    const lines = skipSummary(skipCounts(testModules), [...seen.values()], skippedPerFile(testModules));
    if (lines.length > 0) console.log(lines.join('\n'));
  }
}

// Repeats, after vitest's own summary, every prerequisite that made tests skip or check less (or
// fail under MAILKIND_REQUIRE_ALL) with the command that provisions it, and counts the skipped
// tests per file, so a skip that no prerequisite explains (a stray it.skip) is visible too: the
// reasons otherwise scroll away at the top of a long run.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { MISSES_FILE, type Miss } from './prerequisites.js';

export default class SkipReporter implements Reporter {
  onInit(): void {
    rmSync(MISSES_FILE, { force: true });
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const lines: string[] = [];
    const seen = readMisses();
    if (seen.length > 0) {
      lines.push('', `Prerequisites missing on this machine (${seen.length}); their tests were skipped or checked less:`);
      for (const miss of seen) lines.push(`  - ${miss.what} (${miss.effect ?? 'skipped'}): ${miss.reason}\n      fix: ${miss.fix}`);
      lines.push('  (.ci/run provisions all of them and sets MAILKIND_REQUIRE_ALL=1, which turns each into a failure)');
    }
    const skipped = skippedPerFile(testModules);
    const total = skipped.reduce((n, [, count]) => n + count, 0);
    if (total > 0) {
      lines.push('', `Skipped tests: ${total}, in ${skipped.length} file(s):`);
      for (const [file, count] of skipped) lines.push(`  - ${file}: ${count}`);
    }
    if (lines.length) console.log(lines.join('\n'));
  }
}

function readMisses(): Miss[] {
  if (!existsSync(MISSES_FILE)) return [];
  const seen = new Map<string, Miss>();
  for (const line of readFileSync(MISSES_FILE, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const miss = JSON.parse(line) as Miss;
      seen.set(`${miss.what}\0${miss.reason}`, miss);
    } catch {
      // a torn line from a worker killed mid-write: skip it
    }
  }
  return [...seen.values()];
}

function skippedPerFile(testModules: ReadonlyArray<TestModule>): [string, number][] {
  const counts: [string, number][] = [];
  for (const module of testModules) {
    let n = 0;
    for (const test of module.children.allTests()) if (test.result().state === 'skipped') n++;
    if (n > 0) counts.push([relative(process.cwd(), module.moduleId), n]);
  }
  return counts.sort(([a], [b]) => a.localeCompare(b));
}

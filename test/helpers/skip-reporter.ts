// Repeats, after vitest's own summary, every prerequisite that made tests skip (or fail under
// MAILKIND_REQUIRE_ALL) with the command that provisions it: the reasons otherwise scroll away
// at the top of a long run.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { Reporter } from 'vitest/reporters';
import { MISSES_FILE, type Miss } from './prerequisites.js';

export default class SkipReporter implements Reporter {
  onInit(): void {
    rmSync(MISSES_FILE, { force: true });
  }

  onTestRunEnd(): void {
    if (!existsSync(MISSES_FILE)) return;
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
    if (seen.size === 0) return;
    const lines = ['', `Prerequisites missing on this machine (${seen.size}); their tests did not run:`];
    for (const miss of seen.values()) lines.push(`  - ${miss.what}: ${miss.reason}\n      fix: ${miss.fix}`);
    lines.push('  (.ci/run provisions all of them and sets MAILKIND_REQUIRE_ALL=1, which turns each into a failure)');
    console.log(lines.join('\n'));
  }
}

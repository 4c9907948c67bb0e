// The end-of-run skip summary counts what vitest's own summary counts, and repeats each missing
// prerequisite with its fix. The modules are stand-ins shaped like vitest 4's TestModule
// (state(): 'skipped' when every test of the file was skipped; children.allTests('skipped')).
import { describe, expect, it } from 'vitest';
import { skipCounts, skipSummary, type CountedModule } from '../../helpers/skip-reporter.js';

const mod = (state: string, skipped: number): CountedModule =>
  ({ state: () => state, children: { allTests: (s: string) => (s === 'skipped' ? Array.from({ length: skipped }, (_, i) => i) : []) } }) as unknown as CountedModule;

describe('skip reporter', () => {
  it('counts skipped tests in every file and whole skipped files, as vitest does', () => {
    expect(skipCounts([mod('passed', 0), mod('skipped', 12), mod('passed', 3), mod('skipped', 21)])).toEqual({ tests: 36, files: 2 });
  });

  it('prints the counts and every missing prerequisite with its fix at the end', () => {
    const text = skipSummary({ tests: 36, files: 2 }, [{ what: 'test/component/tilt', reason: 'tilt not found', fix: 'bash scripts/provision/tilt.sh' }]).join('\n');
    expect(text).toContain('Skipped: 36 test(s), 2 whole file(s)');
    expect(text).toContain('  - test/component/tilt: tilt not found\n      fix: bash scripts/provision/tilt.sh');
    expect(skipSummary({ tests: 0, files: 0 }, [])).toEqual([]);
  });
});

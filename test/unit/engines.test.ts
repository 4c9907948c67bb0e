// package.json "engines" is a true floor: the lowest Node of each range it allows satisfies every
// installed package's own engines (package-lock.json), but for the documented exceptions whose
// warning docs/testing.md explains. When a dependency update raises a floor, this fails and says which.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../scripts/lib/config/settings.js';

const semver = createRequire(import.meta.url)('semver') as { satisfies(v: string, range: string): boolean };

/** Packages that declare a higher floor than ours but run on it: schema data of the manifests
 *  tier only, loaded and passing on Node 20.20 (npm ci prints EBADENGINE warnings for them there). */
const EXCEPTIONS: Record<string, string> = {
  'node_modules/kubernetes-models': '>=22',
  'node_modules/@kubernetes-models/apimachinery': '>=22',
  'node_modules/@kubernetes-models/base': '>=22',
  'node_modules/@kubernetes-models/validate': '>=22',
};

describe('the Node.js floor', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } | string[] }> };
  const floors = ['20.19.0', '22.13.0', '24.0.0'];

  it('package.json allows exactly the Node lines every dependency supports', () => {
    expect(pkg.engines.node).toBe('^20.19.0 || ^22.13.0 || >=24');
    for (const v of floors) expect(semver.satisfies(v, pkg.engines.node), v).toBe(true);
    // eslint 10 needs 20.19 / 22.13 (not 22.0-22.12, not 23)
    for (const v of ['20.18.9', '22.12.0', '23.5.0']) expect(semver.satisfies(v, pkg.engines.node), v).toBe(false);
  });

  it("each floor satisfies every installed package's engines, but the listed exceptions on Node 20", () => {
    const problems: string[] = [];
    for (const [name, meta] of Object.entries(lock.packages)) {
      const range = Array.isArray(meta.engines) ? undefined : meta.engines?.node;
      if (!name || range === undefined) continue;
      for (const v of floors) {
        if (semver.satisfies(v, range)) continue;
        if (EXCEPTIONS[name] === range && v.startsWith('20.')) continue;
        problems.push(`${name} wants node ${range}; ${v} does not satisfy it`);
      }
    }
    expect(problems).toEqual([]);
    // the exceptions are still real (drop an entry once its package supports Node 20)
    for (const [name, range] of Object.entries(EXCEPTIONS)) expect((lock.packages[name]?.engines as { node?: string } | undefined)?.node, name).toBe(range);
  });
});

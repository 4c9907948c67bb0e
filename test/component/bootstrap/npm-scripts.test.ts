// The path users take: `npm run <entry point>` (package.json: node --import tsx scripts/<name>.ts).
// The rest of the suite runs the entry points from bundles (test/helpers/entry-point.ts); this
// proves that each also loads and parses its flags as the npm script starts it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { ROOT } from '../../helpers/entry-point.js';

const ENTRY_POINTS = readdirSync(join(ROOT, 'scripts'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.replace(/\.ts$/, ''));

it('every scripts/*.ts is an npm script that starts under tsx and answers --help', async () => {
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  expect(ENTRY_POINTS.length).toBeGreaterThanOrEqual(8);
  for (const name of ENTRY_POINTS) expect(scripts[name], name).toBe(`node --import tsx scripts/${name}.ts`);
  const runs = await Promise.all(ENTRY_POINTS.map((name) => execa('npm', ['run', '--silent', name, '--', '--help'], { cwd: ROOT, reject: false })));
  runs.forEach((r, i) => {
    expect(r.exitCode, `${ENTRY_POINTS[i]}: ${r.stderr}`).toBe(0);
    expect(r.stdout, ENTRY_POINTS[i]).toMatch(/^Usage: /);
  });
}, 60_000);

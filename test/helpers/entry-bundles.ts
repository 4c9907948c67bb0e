// vitest globalSetup: bundles scripts/*.ts once per run with esbuild (the transpiler tsx uses), so
// the dozens of entry-point runs in the suite start in a fraction of the time: the tsx loader costs
// about 0.9 s of CPU per start on this code, a bundle about 0.4 s. test/component/bootstrap/
// npm-scripts.test.ts still runs every entry point through `npm run`, the path users take.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_DIR, ROOT } from './entry-point.js';

export default async function setup(): Promise<void> {
  const scripts = join(ROOT, 'scripts');
  await build({
    entryPoints: readdirSync(scripts)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(scripts, f)),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // dependencies load from node_modules as they do under tsx
    packages: 'external',
    outdir: BUNDLE_DIR,
    outExtension: { '.js': '.mjs' },
    sourcemap: 'inline',
    logLevel: 'warning',
  });
}

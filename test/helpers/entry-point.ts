// How the suite starts an entry point. scripts/*.ts run from the bundles that test/helpers/
// entry-bundles.ts (vitest globalSetup) makes once per run; anything else, and everything with
// MAILKIND_TEST_TSX=1, as the npm scripts do it (package.json: `node --import tsx <file>`).
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const BUNDLE_DIR = join(ROOT, '.cache/test-entries/scripts');
// by absolute URL, so a test may run the entry point from any working directory
const LOADER = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** The program and arguments that run a TypeScript entry point. */
export function tsEntry(file: string, args: readonly string[] = []): [string, string[]] {
  const rel = relative(join(ROOT, 'scripts'), resolve(file));
  if (process.env.MAILKIND_TEST_TSX !== '1' && dirname(rel) === '.' && rel.endsWith('.ts')) {
    const bundle = join(BUNDLE_DIR, rel.replace(/\.ts$/, '.mjs'));
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run the suite through vitest (its globalSetup bundles scripts/*.ts)`);
    return [process.execPath, [bundle, ...args]];
  }
  return [process.execPath, ['--import', LOADER, file, ...args]];
}

// Entry points whose reader goes away (`npm run status | head -1`): a quiet exit, not a stack trace.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { tsEntry } from '../../helpers/entry-point.js';
import { ROOT } from '../../helpers/fake-tools.js';

it('stops quietly with the exit code it had when its stdout is closed early (EPIPE)', async () => {
  const [program, args] = tsEntry(join(ROOT, 'scripts/status.ts'), ['--help']);
  const child = spawn(program, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
  // the reader is gone before the program writes its first line (it starts in half a second)
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  expect(stderr).not.toMatch(/EPIPE|^\s+at /m);
  expect(code).toBe(0);
});

// Image work `up` and `bundle` share: pulling the pins and building the sink, each failure turned
// into a cause and a fix.
import { join } from 'node:path';
import type { Docker } from '../tools/docker.js';
import { UserError } from '../cli/errors.js';
import { CommandError, lastLine } from '../tools/runner.js';
import { inParallel, pullFailureHint } from './images.js';

function stderrOf(e: unknown): string {
  return e instanceof CommandError ? e.result.stderr : String(e);
}

/** Pulls `refs` for `platform`, three at a time (registries throttle more in parallel). */
export async function pullImages(docker: Docker, refs: readonly string[], platform: string): Promise<void> {
  await inParallel(refs, 3, async (ref) => {
    try {
      await docker.pull(ref, platform);
    } catch (e) {
      const msg = stderrOf(e);
      throw new UserError(`pulling ${ref} failed: ${lastLine(msg)}`, pullFailureHint(msg));
    }
  });
}

/** `docker build` of sinks/smtp-sink (build context: the repository root) as `tag`. */
export async function buildSinkImage(docker: Docker, root: string, tag: string, platform?: string): Promise<void> {
  try {
    await docker.build({ context: root, dockerfile: join(root, 'sinks/smtp-sink/Dockerfile'), tag, platform });
  } catch (e) {
    throw new UserError(`building ${tag} failed: ${lastLine(stderrOf(e))}`, 'run `docker build -f sinks/smtp-sink/Dockerfile .` to see the whole build log');
  }
}

// The tilt CLI: only what doctor needs (tilt itself runs the Tiltfile).
import type { Runner } from './runner.js';

export class Tilt {
  constructor(private readonly run: Runner) {}

  /** `tilt version` -> "v0.37.6, built 2026-07-28"; undefined when tilt is missing. */
  async version(): Promise<string | undefined> {
    const r = await this.run('tilt', ['version'], { reject: false, timeoutMs: 20_000 });
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  }
}

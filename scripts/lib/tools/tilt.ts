// The tilt CLI: only what doctor needs (tilt itself runs the Tiltfile).
import type { Runner } from './runner.js';

export class Tilt {
  constructor(private readonly run: Runner) {}

  /** `tilt version` -> "v0.37.6, built 2026-07-28"; undefined when tilt is missing. */
  async version(): Promise<string | undefined> {
    const r = await this.run('tilt', ['version'], { reject: false, timeoutMs: 20_000 });
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  }

  /**
   * The standalone `kustomize` on PATH, which Tilt's kustomize() runs in preference to `kubectl
   * kustomize` (Tiltfile API docs, kustomize(): "uses kustomize on PATH, else kubectl kustomize").
   * `v5.5.0`, or `{Version:kustomize/v4.5.7 ...}` from v4; undefined when there is none.
   */
  async kustomizeVersion(): Promise<string | undefined> {
    const r = await this.run('kustomize', ['version'], { reject: false, timeoutMs: 20_000 });
    return r.exitCode === 0 && !r.notFound ? r.stdout.trim() : undefined;
  }
}

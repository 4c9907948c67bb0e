// The tar CLI: one member out of a .tar.gz (tilt's release archive). Every Linux and macOS has tar.
import { CommandError, type Runner } from './runner.js';

export class Tar {
  constructor(private readonly run: Runner) {}

  /** Extracts `member` of the gzipped archive into `dir`; throws CommandError when it is missing. */
  async extract(archive: string, member: string, dir: string): Promise<void> {
    const r = await this.run('tar', ['-xzf', archive, '-C', dir, member], { reject: false, timeoutMs: 120_000 });
    if (r.exitCode !== 0) throw new CommandError(r);
  }
}

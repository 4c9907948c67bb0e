// The kind CLI. Always with --name: forgetting it for a named cluster is kind's most common
// "image not found" cause (kind known-issues).
import type { Runner } from './runner.js';

export class Kind {
  constructor(private readonly run: Runner) {}

  /** `kind version` -> "kind v0.32.0 go1.26.7 linux/amd64"; undefined when kind is missing. */
  async version(): Promise<string | undefined> {
    const r = await this.run('kind', ['version'], { reject: false, timeoutMs: 20_000 });
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  }

  async clusters(): Promise<string[]> {
    const r = await this.run('kind', ['get', 'clusters'], { timeoutMs: 30_000 });
    // "No kind clusters found." goes to stderr; stdout is one name per line
    return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  }

  async nodes(cluster: string): Promise<string[]> {
    const r = await this.run('kind', ['get', 'nodes', '--name', cluster], { timeoutMs: 30_000 });
    return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  }

  /** Creates the cluster from a config given on stdin; `wait` is kind's own control-plane wait. */
  async create(cluster: string, config: string, wait = '120s'): Promise<void> {
    await this.run('kind', ['create', 'cluster', '--name', cluster, '--config', '-', '--wait', wait], { input: config, timeoutMs: 10 * 60_000 });
  }

  /** Idempotent: deleting a cluster that does not exist is not an error in kind. */
  async delete(cluster: string): Promise<void> {
    await this.run('kind', ['delete', 'cluster', '--name', cluster], { timeoutMs: 5 * 60_000 });
  }

  /** Writes the kind-<cluster> context into the kubeconfig; fails when the cluster is half made. */
  async exportKubeconfig(cluster: string): Promise<boolean> {
    const r = await this.run('kind', ['export', 'kubeconfig', '--name', cluster], { reject: false, timeoutMs: 30_000 });
    return r.exitCode === 0;
  }

  async loadImageArchive(cluster: string, archive: string): Promise<void> {
    await this.run('kind', ['load', 'image-archive', archive, '--name', cluster], { timeoutMs: 15 * 60_000 });
  }
}

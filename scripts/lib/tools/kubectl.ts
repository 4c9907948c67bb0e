// The kubectl CLI, always pinned to one context and namespace (never the user's current one).
import { CommandError, type Runner, type RunResult } from './runner.js';

export interface KubectlTarget {
  context: string;
  namespace: string;
}

export class Kubectl {
  constructor(
    private readonly run: Runner,
    readonly target: KubectlTarget,
  ) {}

  private base(namespaced = true): string[] {
    return ['--context', this.target.context, ...(namespaced ? ['--namespace', this.target.namespace] : [])];
  }

  /** `kubectl version --client` -> "v1.36.1"; undefined when kubectl is missing. */
  async clientVersion(): Promise<string | undefined> {
    const r = await this.run('kubectl', ['version', '--client', '--output', 'json'], { reject: false, timeoutMs: 20_000 });
    if (r.exitCode !== 0) return undefined;
    try {
      return (JSON.parse(r.stdout) as { clientVersion?: { gitVersion?: string } }).clientVersion?.gitVersion;
    } catch {
      return undefined;
    }
  }

  async contextExists(): Promise<boolean> {
    const r = await this.run('kubectl', ['config', 'get-contexts', '--output', 'name'], { reject: false, timeoutMs: 20_000 });
    return r.exitCode === 0 && r.stdout.split('\n').map((l) => l.trim()).includes(this.target.context);
  }

  /** The kubeconfig's current context ("" when none): kind switches it on create and export. */
  async currentContext(): Promise<string> {
    const r = await this.run('kubectl', ['config', 'current-context'], { reject: false, timeoutMs: 20_000 });
    return r.exitCode === 0 ? r.stdout.trim() : '';
  }

  async useContext(name: string): Promise<void> {
    await this.run('kubectl', ['config', 'use-context', name], { timeoutMs: 20_000 });
  }

  /**
   * Polls /readyz until the API server answers or `timeoutSeconds` pass: after a Docker restart
   * the node runs but the API server is down for a while, and `kubectl wait` gives up at once on
   * a refused connection (finding 4). Returns the last result.
   */
  async waitReachable(timeoutSeconds: number, now: () => number = Date.now): Promise<RunResult> {
    const deadline = now() + timeoutSeconds * 1000;
    for (;;) {
      const r = await this.reachable(5);
      if (r.exitCode === 0 || now() >= deadline) return r;
      await new Promise((res) => setTimeout(res, 1000));
    }
  }

  /** Whether `ref` (kind/name) exists in `namespace`. */
  async exists(ref: string, namespace?: string): Promise<boolean> {
    const r = await this.run('kubectl', ['--context', this.target.context, ...(namespace ? ['--namespace', namespace] : []), 'get', ref, '--ignore-not-found', '--output', 'name'], {
      reject: false,
      timeoutMs: 30_000,
    });
    return r.exitCode === 0 && r.stdout.trim() !== '';
  }

  /** The API server answers /readyz within a few seconds. */
  async reachable(timeoutSeconds = 5): Promise<RunResult> {
    return this.run('kubectl', [...this.base(false), '--request-timeout', `${timeoutSeconds}s`, 'get', '--raw', '/readyz'], {
      reject: false,
      timeoutMs: (timeoutSeconds + 5) * 1000,
    });
  }

  async namespaceExists(): Promise<boolean> {
    const r = await this.run('kubectl', [...this.base(false), 'get', `namespace/${this.target.namespace}`, '--output', 'name'], { reject: false, timeoutMs: 30_000 });
    if (r.exitCode === 0) return true;
    if (/NotFound|not found/.test(r.stderr)) return false;
    throw new CommandError(r);
  }

  /** Creates the namespace bare; the manifests' own Namespace object then adds its labels. */
  async createNamespace(): Promise<void> {
    await this.run('kubectl', [...this.base(false), 'create', 'namespace', this.target.namespace], { timeoutMs: 30_000 });
  }

  /** `kubectl apply -f -`; returns kubectl's lines ("secret/x configured", "... unchanged"). */
  async applyManifest(yaml: string, namespaced = true): Promise<string[]> {
    const r = await this.run('kubectl', [...this.base(namespaced), 'apply', '--filename', '-'], { input: yaml, timeoutMs: 120_000 });
    return lines(r.stdout);
  }

  async applyKustomization(dir: string): Promise<string[]> {
    const r = await this.run('kubectl', [...this.base(false), 'apply', '--kustomize', dir], { timeoutMs: 300_000 });
    return lines(r.stdout);
  }

  async kustomize(dir: string): Promise<string> {
    return (await this.run('kubectl', ['kustomize', dir], { timeoutMs: 120_000 })).stdout;
  }

  async deleteObjects(refs: readonly string[]): Promise<string[]> {
    if (refs.length === 0) return [];
    const r = await this.run('kubectl', [...this.base(), 'delete', '--ignore-not-found', '--wait=false', ...refs], { timeoutMs: 120_000 });
    return lines(r.stdout);
  }

  async deleteNamespace(wait: boolean): Promise<string[]> {
    const r = await this.run('kubectl', [...this.base(false), 'delete', 'namespace', this.target.namespace, '--ignore-not-found', `--wait=${wait}`], {
      timeoutMs: 600_000,
    });
    return lines(r.stdout);
  }

  async waitNodesReady(timeoutSeconds: number): Promise<RunResult> {
    return this.run('kubectl', [...this.base(false), 'wait', '--for=condition=Ready', 'nodes', '--all', `--timeout=${timeoutSeconds}s`], {
      reject: false,
      timeoutMs: (timeoutSeconds + 15) * 1000,
    });
  }

  /** `kubectl rollout status`; the result says whether it finished in time. */
  async rolloutStatus(ref: string, timeoutSeconds: number, namespace = this.target.namespace): Promise<RunResult> {
    return this.run('kubectl', ['--context', this.target.context, '--namespace', namespace, 'rollout', 'status', ref, `--timeout=${timeoutSeconds}s`], {
      reject: false,
      timeoutMs: (timeoutSeconds + 15) * 1000,
    });
  }

  /** `kubectl get <what> -o json` in the namespace; undefined items when the list is empty. */
  async getJson<T = unknown>(what: string, extra: readonly string[] = []): Promise<T> {
    const r = await this.run('kubectl', [...this.base(), 'get', what, '--output', 'json', ...extra], { timeoutMs: 60_000 });
    return JSON.parse(r.stdout) as T;
  }

  async logs(pod: string, tail: number, container?: string): Promise<string> {
    const r = await this.run('kubectl', [...this.base(), 'logs', pod, `--tail=${tail}`, ...(container ? ['--container', container] : ['--all-containers'])], {
      reject: false,
      timeoutMs: 30_000,
    });
    return r.exitCode === 0 ? r.stdout : r.stderr;
  }

  async patch(ref: string, patch: object): Promise<void> {
    await this.run('kubectl', [...this.base(), 'patch', ref, '--type', 'merge', '--patch', JSON.stringify(patch)], { timeoutMs: 60_000 });
  }
}

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter(Boolean);
}

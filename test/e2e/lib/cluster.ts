// What the suite asks the cluster, through `kubectl --context <ctx> -n <ns>` (execa, no shell).
// Every call has a deadline: kubectl's own --request-timeout for the API server, and a process
// timeout on top, so an unreachable cluster fails in seconds instead of hanging a test.
import { execa } from 'execa';

export class KubectlError extends Error {
  override name = 'KubectlError';
  constructor(
    message: string,
    readonly args: readonly string[],
    readonly stderr: string,
    readonly reason: 'missing' | 'timeout' | 'failed',
  ) {
    super(message);
  }
  /** kubectl's own words, without the command line */
  get gist(): string {
    return stderrGist(this.stderr) || this.message;
  }
}

export interface ClusterOptions {
  kubectl: string;
  context: string;
  namespace: string;
  /** default deadline of one call */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface WorkloadStatus {
  kind: 'Deployment' | 'StatefulSet';
  name: string;
  desired: number;
  ready: number;
}

export interface PodInfo {
  name: string;
  uid: string;
  ip: string | null;
  phase: string;
  ready: boolean;
  restarts: number;
  /** claimName of each PVC volume */
  claims: string[];
}

interface PodJson {
  metadata: { name: string; uid: string };
  spec?: { volumes?: { persistentVolumeClaim?: { claimName: string } }[] };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { restartCount?: number }[];
  };
}

export function podInfo(p: PodJson): PodInfo {
  return {
    name: p.metadata.name,
    uid: p.metadata.uid,
    ip: p.status?.podIP ?? null,
    phase: p.status?.phase ?? 'Unknown',
    ready: (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    restarts: (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0),
    claims: (p.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : [])),
  };
}

/** The label every mailkind workload's pods carry (manifests/base/components/*.yaml). */
export const NAME_LABEL = 'app.kubernetes.io/name';

/** The gist of kubectl's stderr: its last line that is not klog noise ("E1122 06:02:37 ..."). */
export function stderrGist(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^[EWIF]\d{4} /.test(l));
  return lines[lines.length - 1] ?? '';
}

export class Cluster {
  readonly context: string;
  readonly namespace: string;
  readonly #kubectl: string;
  readonly #timeoutMs: number;
  readonly #env: NodeJS.ProcessEnv | undefined;

  constructor(o: ClusterOptions) {
    this.#kubectl = o.kubectl;
    this.context = o.context;
    this.namespace = o.namespace;
    this.#timeoutMs = o.timeoutMs ?? 20_000;
    this.#env = o.env;
  }

  /** Runs kubectl in the context and namespace; stdout, or a KubectlError with stderr's gist. */
  async run(args: readonly string[], opts: { timeoutMs?: number; namespaced?: boolean } = {}): Promise<string> {
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    const full = [
      '--context',
      this.context,
      ...(opts.namespaced === false ? [] : ['-n', this.namespace]),
      // the API server deadline, a little inside the process deadline
      `--request-timeout=${Math.max(1, Math.floor(timeoutMs / 1000) - 1)}s`,
      ...args,
    ];
    const r = await execa(this.#kubectl, full, {
      reject: false,
      timeout: timeoutMs,
      stdin: 'ignore',
      // never prompt (exec credential plugins), never colour
      env: { ...(this.#env ?? process.env), KUBECTL_INTERACTIVE: 'false' },
      maxBuffer: 64 * 1024 * 1024,
    });
    const shown = `kubectl ${full.join(' ')}`;
    if ((r as { code?: string }).code === 'ENOENT') {
      throw new KubectlError(`kubectl not found ("${this.#kubectl}"); install it or set MAILKIND_KUBECTL`, full, '', 'missing');
    }
    if (r.timedOut) throw new KubectlError(`${shown}: no answer within ${timeoutMs} ms`, full, String(r.stderr ?? ''), 'timeout');
    if (r.exitCode !== 0) {
      const stderr = String(r.stderr ?? '');
      throw new KubectlError(`${shown}: ${stderrGist(stderr) || `exit ${r.exitCode}`}`, full, stderr, 'failed');
    }
    return String(r.stdout ?? '');
  }

  async json<T>(args: readonly string[], opts: { timeoutMs?: number; namespaced?: boolean } = {}): Promise<T> {
    const text = await this.run([...args, '-o', 'json'], opts);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new KubectlError(`kubectl ${args.join(' ')}: output is not JSON`, args, '', 'failed');
    }
  }

  /** Deployments and StatefulSets of the namespace with desired and ready replicas. */
  async workloads(timeoutMs?: number): Promise<WorkloadStatus[]> {
    const list = await this.json<{ items: { kind: string; metadata: { name: string }; spec?: { replicas?: number }; status?: { readyReplicas?: number } }[] }>(
      ['get', 'deployments,statefulsets'],
      timeoutMs === undefined ? {} : { timeoutMs },
    );
    return list.items.map((i) => ({
      kind: i.kind as WorkloadStatus['kind'],
      name: i.metadata.name,
      desired: i.spec?.replicas ?? 1,
      ready: i.status?.readyReplicas ?? 0,
    }));
  }

  /** A pod by name, or null when there is none (e.g. while a StatefulSet recreates it). */
  async pod(name: string): Promise<PodInfo | null> {
    try {
      return podInfo(await this.json<PodJson>(['get', 'pod', name]));
    } catch (e) {
      if (e instanceof KubectlError && /NotFound|not found/i.test(e.stderr)) return null;
      throw e;
    }
  }

  /** The pods of a component (label app.kubernetes.io/name), sorted by name. */
  async podsOf(component: string): Promise<PodInfo[]> {
    const list = await this.json<{ items: PodJson[] }>(['get', 'pods', '-l', `${NAME_LABEL}=${component}`]);
    return list.items.map(podInfo).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Deletes a pod without waiting for it to go (its StatefulSet recreates it). */
  async deletePod(name: string): Promise<void> {
    await this.run(['delete', 'pod', name, '--wait=false']);
  }

  /**
   * Waits until the pod `name` exists with a uid other than `oldUid` and is Ready: the
   * replacement of a deleted StatefulSet pod. Polls once a second (a condition, not a sleep).
   */
  async waitForReplacement(name: string, oldUid: string, timeoutMs: number): Promise<PodInfo> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const last = await this.pod(name);
      if (last && last.uid !== oldUid && last.ready) return last;
      if (Date.now() > deadline) {
        const state = last === null ? 'absent' : last.uid === oldUid ? 'still the old pod' : `new pod, phase ${last.phase}, not Ready`;
        throw new Error(`pod ${name} did not come back Ready within ${timeoutMs} ms (${state})`);
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }

  /** A PVC's uid: the same uid before and after a pod restart means the same volume. */
  async pvcUid(name: string): Promise<string> {
    return (await this.json<{ metadata: { uid: string } }>(['get', 'pvc', name])).metadata.uid;
  }

  /** A pod's log (all containers); `since` like "10m". */
  async logs(pod: string, opts: { since?: string; tail?: number; previous?: boolean } = {}): Promise<string> {
    const args = ['logs', pod, '--all-containers'];
    if (opts.since) args.push(`--since=${opts.since}`);
    args.push(`--tail=${opts.tail ?? -1}`);
    if (opts.previous) args.push('--previous');
    return this.run(args);
  }

  /** One key of a Secret, decoded. */
  /** One key of a Secret; timeoutMs bounds the call (kubectl --request-timeout and the process). */
  async secretValue(secret: string, key: string, timeoutMs?: number): Promise<string | null> {
    const s = await this.json<{ data?: Record<string, string> }>(['get', 'secret', secret], timeoutMs === undefined ? {} : { timeoutMs });
    const v = s.data?.[key];
    return v === undefined ? null : Buffer.from(v, 'base64').toString('utf8');
  }
}

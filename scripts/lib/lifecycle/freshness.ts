// After a kind node restarts (its container stopped with the Docker engine, or `docker start`),
// the API server comes back with the pod statuses the kubelet wrote before: Ready, with
// containers that died with the node. Until the kubelet reports again, `kubectl rollout status`
// and `kubectl wait` read those and pass (seen on the real kind cluster: CoreDNS "rolled out"
// while its container was still starting). A status is from this boot when every running
// container of the pod started after the node did.
import { setTimeout as pause } from 'node:timers/promises';
import { UserError } from '../cli/errors.js';

export interface PodStatusJson {
  metadata: { name: string; namespace?: string };
  spec?: { nodeName?: string };
  status?: {
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; state?: { running?: { startedAt?: string } } }[];
  };
}

/** RFC 3339 to whole seconds: the API server keeps startedAt to the second. */
function seconds(rfc3339: string): number {
  return Math.floor(Date.parse(rfc3339) / 1000);
}

/**
 * The pods on `node` that say Ready with a container running since before the node's last start:
 * statuses the kubelet has not rewritten yet. Not-ready pods are left to the rollout wait.
 */
export function stalePods(pods: readonly PodStatusJson[], node: string, nodeStartedAt: string): string[] {
  const boot = seconds(nodeStartedAt);
  if (Number.isNaN(boot)) return [];
  return pods
    .filter((p) => p.spec?.nodeName === node)
    .filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    .filter((p) =>
      (p.status?.containerStatuses ?? []).some((c) => {
        const started = c.state?.running?.startedAt;
        return started !== undefined && seconds(started) < boot;
      }),
    )
    .map((p) => `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`);
}

export interface FreshnessSource {
  /** the node's name (its container's) */
  node: string;
  /** its container's State.StartedAt; undefined: unknown, nothing to wait for */
  startedAt: string | undefined;
  /** every pod of the cluster; throws while the API server does not answer */
  pods(): Promise<PodStatusJson[]>;
}

export interface FreshnessOptions {
  timeoutSeconds: number;
  intervalMs?: number;
  now?: () => number;
  /** once, when the first list shows stale pods: how many */
  onWait?: (stale: number) => void;
}

/**
 * Waits until no pod on the node says Ready from before the node's last start, so the readiness
 * checks after it read what the kubelet of this boot reported. Resolves to the seconds waited.
 */
export async function waitForFreshStatuses(src: FreshnessSource, opts: FreshnessOptions): Promise<number> {
  if (!src.startedAt) return 0;
  const now = opts.now ?? Date.now;
  const started = now();
  let told = false;
  for (;;) {
    // the API server of a just restarted node may still drop a request: ask again
    let stale: string[] | undefined;
    let apiError = '';
    try {
      stale = stalePods(await src.pods(), src.node, src.startedAt);
    } catch (e) {
      apiError = e instanceof Error ? e.message.split('\n').filter(Boolean).at(-1) ?? e.message : String(e);
    }
    if (stale?.length === 0) return Math.round((now() - started) / 1000);
    if (now() - started >= opts.timeoutSeconds * 1000) {
      if (!stale) {
        throw new UserError(`the API server of ${src.node} did not list the pods for ${opts.timeoutSeconds}s after the node started: ${apiError}`, `check \`docker logs ${src.node}\`; if it is broken, \`npm run down\` and \`npm run up\``);
      }
      throw new UserError(
        `the kubelet of ${src.node} has not reported on ${stale.join(', ')} in ${opts.timeoutSeconds}s since the node started`,
        `check \`docker exec ${src.node} journalctl -u kubelet --no-pager | tail -50\`; if it is broken, \`npm run down\` and \`npm run up\``,
      );
    }
    if (stale && !told) {
      opts.onWait?.(stale.length);
      told = true;
    }
    await pause(opts.intervalMs ?? 1000);
  }
}

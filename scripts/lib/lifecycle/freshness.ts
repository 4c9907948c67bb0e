// After a kind node restarts (its container stopped with the Docker engine, or `docker start`),
// the API server comes back with the pod statuses the kubelet wrote before: Ready, with
// containers that died with the node. Until the kubelet reports again, `kubectl rollout status`
// and `kubectl wait` read those and pass (seen on the real kind cluster: CoreDNS "rolled out"
// while its container was still starting). A status is from this boot when every running
// container of the pod started after the node did.

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

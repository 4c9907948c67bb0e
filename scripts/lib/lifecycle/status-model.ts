// `npm run status` as data: one row per workload from what kubectl returns. Pure.
import type { Settings } from '../config/settings.js';
import { endpoints, SERVICE_OF } from './summary.js';
import { PORTS } from '../config/settings.js';

export interface WorkloadJson {
  kind: string;
  metadata: { name: string };
  spec?: { replicas?: number };
  status?: { readyReplicas?: number; replicas?: number };
}

export interface PodJson {
  metadata: { name: string; uid?: string; labels?: Record<string, string> };
  status?: {
    containerStatuses?: { restartCount?: number }[];
    conditions?: { type: string; status: string; lastTransitionTime?: string | null }[];
  };
}

export interface EventJson {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  involvedObject?: { kind?: string; name?: string; uid?: string };
  lastTimestamp?: string | null;
  eventTime?: string | null;
}

export interface StatusRow {
  component: string;
  kind: string;
  ready: number;
  desired: number;
  restarts: number;
  endpoints: string[];
  /** recent Warning events of the workload and its pods, newest last */
  warnings: string[];
}

/** Which host endpoints belong to which component. */
const ENDPOINT_OWNER: Record<string, string> = {
  kumoHttp: 'kumomta',
  kumoInbound: 'kumomta',
  kumoRelay: 'kumomta',
  sinkHttp: 'smtp-sink',
  mailmanRest: 'mailman-core',
  mailmanWeb: 'mailman-web',
};

function eventTime(e: EventJson): number {
  return Date.parse(e.lastTimestamp ?? e.eventTime ?? '') || 0;
}

/** When a pod last became Ready; undefined while it is not Ready (or nobody said). */
function readySince(p: PodJson): number | undefined {
  const c = p.status?.conditions?.find((x) => x.type === 'Ready');
  return c?.status === 'True' ? Date.parse(c.lastTransitionTime ?? '') || undefined : undefined;
}

/**
 * An event is current when it is about a workload as it is now: one of its pods that still exists
 * (the same pod, not an earlier one of that name), a ReplicaSet of it, one of its StatefulSet PVCs
 * or the workload itself, and, once that pod (or the whole workload) is Ready, not older than
 * that. So a FailedScheduling from before the volumes were bound, or a BackOff of a pod that has
 * since been replaced, is history, not a problem of the running stack.
 */
function isCurrent(e: EventJson, workload: string, pods: readonly PodJson[], workloadReadySince: number | undefined): boolean {
  const kind = e.involvedObject?.kind;
  const name = e.involvedObject?.name ?? '';
  const at = eventTime(e);
  if (kind === 'Pod') {
    const pod = pods.find((p) => p.metadata.name === name);
    if (!pod) return false;
    if (e.involvedObject?.uid && pod.metadata.uid && e.involvedObject.uid !== pod.metadata.uid) return false;
    const since = readySince(pod);
    return since === undefined || at > since;
  }
  const mine =
    name === workload ||
    (kind === 'ReplicaSet' && new RegExp(`^${workload}-[a-z0-9]{5,10}$`).test(name)) ||
    (kind === 'PersistentVolumeClaim' && new RegExp(`-${workload}-\\d+$`).test(name));
  return mine && (workloadReadySince === undefined || at > workloadReadySince);
}

export function statusRows(
  workloads: readonly WorkloadJson[],
  pods: readonly PodJson[],
  events: readonly EventJson[],
  settings: Pick<Settings, 'host' | 'ports' | 'profile'> & { external?: boolean },
  now = Date.now(),
  windowMs = 15 * 60_000,
): StatusRow[] {
  // on a cluster mailkind did not create nothing listens on this machine: name the Service instead
  const eps = endpoints(settings).map((e) =>
    settings.external ? { ...e, url: `service/${SERVICE_OF[e.key].service}:${SERVICE_OF[e.key].port} (NodePort ${PORTS[e.key].nodePort})` } : e,
  );
  return workloads
    .map((w) => {
      const name = w.metadata.name;
      const mine = pods.filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === name);
      const ready = w.status?.readyReplicas ?? 0;
      const desired = w.spec?.replicas ?? 1;
      const since = mine.map(readySince);
      // the workload is settled since its last pod became Ready (when all of them are)
      const workloadReadySince = ready >= desired && since.length > 0 && since.every((t) => t !== undefined) ? Math.max(...since) : undefined;
      const warnings = events
        .filter((e) => e.type === 'Warning' && now - eventTime(e) <= windowMs)
        .filter((e) => isCurrent(e, name, mine, workloadReadySince))
        .sort((a, b) => eventTime(a) - eventTime(b))
        .slice(-3)
        .map((e) => `${e.reason ?? 'Warning'}: ${e.message ?? ''}${e.count && e.count > 1 ? ` (x${e.count})` : ''}`);
      return {
        component: name,
        kind: w.kind,
        ready,
        desired,
        restarts: mine.reduce((s, p) => s + (p.status?.containerStatuses ?? []).reduce((t, c) => t + (c.restartCount ?? 0), 0), 0),
        endpoints: eps.filter((e) => ENDPOINT_OWNER[e.key] === name).map((e) => e.url),
        warnings,
      };
    })
    .sort((a, b) => a.component.localeCompare(b.component));
}

export function allReady(rows: readonly StatusRow[]): boolean {
  return rows.length > 0 && rows.every((r) => r.ready >= r.desired);
}

export function statusTable(rows: readonly StatusRow[]): string[] {
  const w = Math.max(9, ...rows.map((r) => r.component.length));
  const out = [`${'component'.padEnd(w)}  ready  restarts  endpoint`];
  for (const r of rows) {
    const ready = `${r.ready}/${r.desired}`;
    out.push(`${r.component.padEnd(w)}  ${ready.padEnd(5)}  ${String(r.restarts).padStart(8)}  ${r.endpoints[0] ?? ''}`);
    for (const e of r.endpoints.slice(1)) out.push(`${' '.repeat(w + 27)}${e}`);
    for (const warn of r.warnings) out.push(`${' '.repeat(w + 2)}! ${warn}`);
  }
  return out;
}

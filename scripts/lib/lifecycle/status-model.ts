// `npm run status` as data: one row per workload from what kubectl returns. Pure.
import type { Settings } from '../config/settings.js';
import { endpoints } from './summary.js';

export interface WorkloadJson {
  kind: string;
  metadata: { name: string };
  spec?: { replicas?: number };
  status?: { readyReplicas?: number; replicas?: number };
}

export interface PodJson {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { containerStatuses?: { restartCount?: number }[] };
}

export interface EventJson {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  involvedObject?: { kind?: string; name?: string };
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

/** An event is about a workload, one of its pods, its ReplicaSets or its StatefulSet PVCs. */
function belongsTo(e: EventJson, workload: string, pods: ReadonlySet<string>): boolean {
  const kind = e.involvedObject?.kind;
  const name = e.involvedObject?.name ?? '';
  if (name === workload || pods.has(name)) return true;
  if (kind === 'ReplicaSet') return new RegExp(`^${workload}-[a-z0-9]{5,10}$`).test(name);
  if (kind === 'PersistentVolumeClaim') return new RegExp(`-${workload}-\\d+$`).test(name);
  return false;
}

export function statusRows(
  workloads: readonly WorkloadJson[],
  pods: readonly PodJson[],
  events: readonly EventJson[],
  settings: Pick<Settings, 'host' | 'ports' | 'profile'>,
  now = Date.now(),
  windowMs = 15 * 60_000,
): StatusRow[] {
  const eps = endpoints(settings);
  return workloads
    .map((w) => {
      const name = w.metadata.name;
      const mine = pods.filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === name);
      const podNames = new Set(mine.map((p) => p.metadata.name));
      const warnings = events
        .filter((e) => e.type === 'Warning' && now - eventTime(e) <= windowMs)
        .filter((e) => belongsTo(e, name, podNames))
        .sort((a, b) => eventTime(a) - eventTime(b))
        .slice(-3)
        .map((e) => `${e.reason ?? 'Warning'}: ${e.message ?? ''}${e.count && e.count > 1 ? ` (x${e.count})` : ''}`);
      return {
        component: name,
        kind: w.kind,
        ready: w.status?.readyReplicas ?? 0,
        desired: w.spec?.replicas ?? 1,
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

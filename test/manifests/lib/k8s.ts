// Rendered Kubernetes objects and the few accessors the checks share. Field types come from
// kubernetes-models (the same package that supplies the schemas), so a typo here is a type error.
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { IServiceSpec } from 'kubernetes-models/v1/ServiceSpec';
import type { IStatefulSetSpec } from 'kubernetes-models/apps/v1/StatefulSetSpec';

// apimachinery types, reached through kubernetes-models (its own dependency, not ours)
type ILabelSelector = IStatefulSetSpec['selector'];
type IObjectMeta = NonNullable<IPodTemplateSpec['metadata']>;

export type { IContainer, ILabelSelector, IObjectMeta, IPersistentVolumeClaim, IPodSpec, IPodTemplateSpec, IServiceSpec };

/** Any rendered object; kind-specific fields are read through the accessors below. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: IObjectMeta & { name: string };
  [field: string]: unknown;
}

/** One problem, phrased so the test output alone says what to change. */
export interface Finding {
  /** `Kind/name` (or a file) */
  object: string;
  /** dotted path of the field, e.g. spec.template.spec.containers[kumod].env */
  field: string;
  problem: string;
  fix: string;
}

export function formatFinding(f: Finding): string {
  return `${f.object} ${f.field}: ${f.problem}\n      fix: ${f.fix}`;
}

export const ref = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;

export const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

export function isWorkload(o: K8sObject): boolean {
  return WORKLOAD_KINDS.has(o.kind) || o.kind === 'CronJob';
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

export function spec(o: K8sObject): Record<string, unknown> {
  return record(o.spec) ?? {};
}

/** The pod template of a workload (CronJob: its job template's). */
export function podTemplate(o: K8sObject): IPodTemplateSpec | undefined {
  if (o.kind === 'CronJob') {
    const job = record(record(spec(o).jobTemplate)?.spec);
    return record(job?.template);
  }
  if (!WORKLOAD_KINDS.has(o.kind)) return undefined;
  return record(spec(o).template);
}

export function podSpec(o: K8sObject): IPodSpec | undefined {
  return podTemplate(o)?.spec;
}

/** The path prefix of the pod spec inside the object, for findings. */
export function podSpecPath(o: K8sObject): string {
  return o.kind === 'CronJob' ? 'spec.jobTemplate.spec.template.spec' : 'spec.template.spec';
}

export interface ContainerRef {
  container: IContainer;
  /** e.g. spec.template.spec.containers[kumod] */
  path: string;
  init: boolean;
}

export function containers(o: K8sObject): ContainerRef[] {
  const ps = podSpec(o);
  if (!ps) return [];
  const base = podSpecPath(o);
  return [
    ...(ps.initContainers ?? []).map((c) => ({ container: c, path: `${base}.initContainers[${c.name}]`, init: true })),
    ...(ps.containers ?? []).map((c) => ({ container: c, path: `${base}.containers[${c.name}]`, init: false })),
  ];
}

export function replicas(o: K8sObject): number {
  if (o.kind === 'Deployment' || o.kind === 'StatefulSet' || o.kind === 'ReplicaSet') {
    const r = spec(o).replicas;
    return typeof r === 'number' ? r : 1;
  }
  return 1;
}

export function serviceSpec(o: K8sObject): IServiceSpec | undefined {
  return o.kind === 'Service' ? (record(o.spec)) : undefined;
}

/** Does a label selector (matchLabels and matchExpressions) select these labels? */
export function selectorMatches(selector: ILabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    const value = l[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || value === undefined || !(e.values ?? []).includes(value)) return false;
        break;
      case 'NotIn':
        if (has && value !== undefined && (e.values ?? []).includes(value)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return Object.keys(selector.matchLabels ?? {}).length + (selector.matchExpressions ?? []).length > 0;
}

/** Does a Service's plain selector map select these labels? */
export function serviceSelects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

/** Kubernetes quantities ("100m", "1", "384Mi", "1G") in base units (cores, bytes). */
export function parseQuantity(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  if (typeof q === 'number') return q;
  const m = /^([+-]?[0-9.]+)([a-zA-Z]*)$/.exec(q.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  if (!Number.isFinite(n)) return undefined;
  const factors: Record<string, number> = {
    '': 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  };
  const f = factors[m[2] ?? ''];
  return f === undefined ? undefined : n * f;
}

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

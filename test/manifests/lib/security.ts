// Security and sizing rules for every container, and the "no credentials in manifests" scan.
import {
  GiB,
  MiB,
  containers,
  isWorkload,
  parseQuantity,
  podSpec,
  podSpecPath,
  ref,
  replicas,
  type Finding,
  type K8sObject,
} from './k8s.js';
import { parseImageRef, type ImagePin } from './sources.js';

/** A container allowed to start as root, and why (shown next to the rule in test output). */
export interface RootException {
  /** `Kind/name` */
  object: string;
  container: string;
  reason: string;
  /** capabilities it may add back after dropping ALL */
  capabilities: string[];
}

export interface ContainerPolicy {
  images: ImagePin[];
  rootExceptions: RootException[];
}

function exceptionFor(policy: ContainerPolicy, o: K8sObject, container: string): RootException | undefined {
  return policy.rootExceptions.find((e) => e.object === ref(o) && e.container === container);
}

/**
 * Per container: requests and limits for cpu and memory (requests <= limits), readiness and
 * liveness probes (not for init containers), an image from the kustomization's images list with
 * its pinned tag (never latest, never untagged), no privilege escalation, not privileged, drop ALL
 * capabilities, seccomp RuntimeDefault, and runAsNonRoot unless the container is a listed
 * exception. Per pod: no host namespaces.
 */
export function checkContainers(objects: K8sObject[], policy: ContainerPolicy): Finding[] {
  const findings: Finding[] = [];
  for (const o of objects.filter(isWorkload)) {
    const ps = podSpec(o);
    if (!ps) continue;
    const base = podSpecPath(o);
    for (const hostField of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
      if (ps[hostField] === true) {
        findings.push({ object: ref(o), field: `${base}.${hostField}`, problem: 'shares a host namespace', fix: `remove ${hostField}` });
      }
    }
    const podSc = ps.securityContext ?? {};
    for (const { container: c, path, init } of containers(o)) {
      const add = (field: string, problem: string, fix: string) => findings.push({ object: ref(o), field: `${path}.${field}`, problem, fix });

      // sizing
      const req = c.resources?.requests ?? {};
      const lim = c.resources?.limits ?? {};
      for (const r of ['cpu', 'memory'] as const) {
        if (req[r] === undefined) add(`resources.requests.${r}`, 'is not set', `set a ${r} request (what the scheduler reserves)`);
        if (lim[r] === undefined) add(`resources.limits.${r}`, 'is not set', `set a ${r} limit so one pod cannot starve an 8 GB laptop`);
        const rq = parseQuantity(req[r]);
        const lm = parseQuantity(lim[r]);
        if (rq !== undefined && lm !== undefined && rq > lm) add(`resources.requests.${r}`, `${String(req[r])} exceeds the limit ${String(lim[r])}`, 'lower the request or raise the limit');
      }

      // probes
      if (!init) {
        if (!c.readinessProbe) add('readinessProbe', 'is not set', 'add a probe that passes only when the container can serve');
        if (!c.livenessProbe) add('livenessProbe', 'is not set', 'add a probe that fails only when a restart would help');
      }

      // image pinned through the kustomization images list
      const image = c.image ?? '';
      const { repository, tag, digest } = parseImageRef(image);
      const pin = policy.images.find((p) => (p.newName ?? p.name) === repository);
      if (!pin) {
        add('image', `"${image}" is not in the kustomization images list`, 'add the image to manifests/base/kustomization.yaml images: (the one place versions live)');
      } else if (tag === 'latest' || (tag === undefined && digest === undefined)) {
        add('image', `"${image}" is not pinned (latest or no tag)`, `pin a release with newTag in manifests/base/kustomization.yaml images: (${pin.name})`);
      } else if ((pin.digest !== undefined && digest !== pin.digest) || (pin.newTag !== undefined && tag !== pin.newTag)) {
        add('image', `"${image}" differs from the pin ${pin.newTag ?? ''}${pin.digest ? `@${pin.digest}` : ''}`, 'let kustomize set the tag: write the image name without a tag in the component');
      }
      if (pin && pin.newTag === 'latest') {
        add('image', `kustomization pins ${pin.name} to latest`, 'pin an exact release');
      }

      // security context: container settings win over the pod's
      const sc = c.securityContext ?? {};
      if (sc.allowPrivilegeEscalation !== false) add('securityContext.allowPrivilegeEscalation', `is ${String(sc.allowPrivilegeEscalation ?? 'unset (true)')}`, 'set allowPrivilegeEscalation: false');
      if (sc.privileged === true) add('securityContext.privileged', 'is true', 'remove privileged');
      const drops = sc.capabilities?.drop ?? [];
      if (!drops.includes('ALL')) add('securityContext.capabilities.drop', `is [${drops.join(', ')}]`, 'drop: [ALL] (add back only what the image needs)');
      const exception = exceptionFor(policy, o, c.name);
      const added = sc.capabilities?.add ?? [];
      const allowedCaps = new Set(exception?.capabilities ?? []);
      const extra = added.filter((cap) => !allowedCaps.has(cap));
      if (extra.length > 0) {
        add('securityContext.capabilities.add', `adds ${extra.join(', ')}`, exception ? `only ${[...allowedCaps].join(', ')} are justified for this container` : 'add no capabilities (listen on ports >= 1024)');
      }
      const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
      if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') add('securityContext.seccompProfile', `is ${seccomp ?? 'unset (Unconfined on many runtimes)'}`, 'set seccompProfile: { type: RuntimeDefault } on the pod');
      const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
      const uid = sc.runAsUser ?? podSc.runAsUser;
      if (!exception) {
        if (nonRoot !== true) add('securityContext.runAsNonRoot', `is ${String(nonRoot ?? 'unset')}`, 'set runAsNonRoot: true and runAsUser to the image\'s unprivileged uid (or add a documented exception)');
        if (uid === 0) add('securityContext.runAsUser', 'is 0 (root)', "use the image's unprivileged uid");
      }
    }
  }
  return findings;
}

export interface Totals {
  requests: { cpu: number; memory: number };
  limits: { cpu: number; memory: number };
  /** per workload: replicas x per-pod sums */
  rows: { object: string; replicas: number; requests: { cpu: number; memory: number }; limits: { cpu: number; memory: number } }[];
}

/** Sums of requests and limits over every running container, times the workload's replicas. */
export function resourceTotals(objects: K8sObject[]): Totals {
  const totals: Totals = { requests: { cpu: 0, memory: 0 }, limits: { cpu: 0, memory: 0 }, rows: [] };
  for (const o of objects.filter(isWorkload)) {
    const n = replicas(o);
    const row = { object: ref(o), replicas: n, requests: { cpu: 0, memory: 0 }, limits: { cpu: 0, memory: 0 } };
    for (const { container: c, init } of containers(o)) {
      if (init) continue;
      row.requests.cpu += n * (parseQuantity(c.resources?.requests?.cpu) ?? 0);
      row.requests.memory += n * (parseQuantity(c.resources?.requests?.memory) ?? 0);
      row.limits.cpu += n * (parseQuantity(c.resources?.limits?.cpu) ?? 0);
      row.limits.memory += n * (parseQuantity(c.resources?.limits?.memory) ?? 0);
    }
    totals.rows.push(row);
    totals.requests.cpu += row.requests.cpu;
    totals.requests.memory += row.requests.memory;
    totals.limits.cpu += row.limits.cpu;
    totals.limits.memory += row.limits.memory;
  }
  return totals;
}

export const fmtMemory = (bytes: number): string => (bytes >= GiB ? `${(bytes / GiB).toFixed(2)} GiB` : `${Math.round(bytes / MiB)} MiB`);
export const fmtCpu = (cores: number): string => `${Math.round(cores * 1000)}m`;

export function formatTotals(t: Totals): string {
  const lines = t.rows.map(
    (r) =>
      `  ${r.object.padEnd(28)} x${r.replicas}  requests ${fmtCpu(r.requests.cpu).padStart(6)} ${fmtMemory(r.requests.memory).padStart(9)}  limits ${fmtCpu(r.limits.cpu).padStart(6)} ${fmtMemory(r.limits.memory).padStart(9)}`,
  );
  lines.push(
    `  ${'total'.padEnd(31)}  requests ${fmtCpu(t.requests.cpu).padStart(6)} ${fmtMemory(t.requests.memory).padStart(9)}  limits ${fmtCpu(t.limits.cpu).padStart(6)} ${fmtMemory(t.limits.memory).padStart(9)}`,
  );
  return lines.join('\n');
}

/** The stack fits the stated budgets (an 8 GB laptop: Docker Desktop gives the VM about half). */
export function checkBudget(t: Totals, budget: { limitsMemory: number; requestsMemory: number }): Finding[] {
  const findings: Finding[] = [];
  const biggest = [...t.rows].sort((a, b) => b.limits.memory - a.limits.memory).slice(0, 3).map((r) => `${r.object} ${fmtMemory(r.limits.memory)}`).join(', ');
  if (t.limits.memory > budget.limitsMemory) {
    findings.push({
      object: 'whole stack',
      field: 'sum of resources.limits.memory x replicas',
      problem: `${fmtMemory(t.limits.memory)} exceeds the budget ${fmtMemory(budget.limitsMemory)} (largest: ${biggest})`,
      fix: 'lower limits (or replicas) until the stack fits the budget',
    });
  }
  if (t.requests.memory > budget.requestsMemory) {
    findings.push({
      object: 'whole stack',
      field: 'sum of resources.requests.memory x replicas',
      problem: `${fmtMemory(t.requests.memory)} exceeds the budget ${fmtMemory(budget.requestsMemory)}: pods would stay Pending on a small node`,
      fix: 'lower requests',
    });
  }
  return findings;
}

/** Env var names that carry credentials: their value must come from a Secret. */
const CREDENTIAL_NAME = /(PASS(WORD|WD)?|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)($|_)/i;
/** user:password@ in a URL, where the password is not a $(VAR) reference */
const URL_CREDENTIAL = /:\/\/[^\s/:@]+:([^\s/@]+)@/;
/** key: value / key = "value" lines that look like a credential in config files */
const CONFIG_CREDENTIAL_QUOTED = /\b[\w-]*(pass(word|wd)?|secret|api[_-]?key|token)[\w-]*\s*[:=]\s*(["'])([^"'\s]{6,})\3/i;
const CONFIG_CREDENTIAL_INI = /^\s*[\w.-]*(pass(word|wd)?|secret|api[_-]?key|token)[\w.-]*\s*[:=]\s*([^\s$"'][^\s]{5,})\s*$/im;

const isEnvReference = (v: string): boolean => /^\$\(\w+\)$/.test(v) || /^\$\{?\w+\}?$/.test(v);

/**
 * No Secret objects in the manifests (the toolkit generates them) and no literal credentials:
 * credential-named env vars must use valueFrom.secretKeyRef, URLs must not embed a literal
 * password, ConfigMap files must not hold password/secret/token values.
 */
export function checkNoCredentials(objects: K8sObject[]): Finding[] {
  const findings: Finding[] = [];
  for (const o of objects) {
    if (o.kind === 'Secret') {
      findings.push({
        object: ref(o),
        field: '(object)',
        problem: 'a Secret in the manifests puts a credential in git',
        fix: 'declare it in scripts/lib/secrets/spec.ts: the toolkit generates and applies it',
      });
    }
    if (o.kind === 'ConfigMap') {
      for (const [file, content] of Object.entries((o.data ?? {}) as Record<string, unknown>)) {
        if (typeof content !== 'string') continue;
        const ini = /\.(cfg|ini|conf|toml|env|properties)$/.test(file) ? CONFIG_CREDENTIAL_INI.exec(content) : null;
        const quoted = CONFIG_CREDENTIAL_QUOTED.exec(content);
        const m = quoted ?? ini;
        const value = quoted ? quoted[4] : ini?.[3];
        if (m && value !== undefined && !isEnvReference(value) && !/getenv/.test(m[0])) {
          const line = content.slice(0, m.index).split('\n').length + (m[0].startsWith('\n') ? 1 : 0);
          findings.push({
            object: ref(o),
            field: `data["${file}"] line ${line}`,
            problem: 'looks like a literal credential',
            fix: 'read it from the environment (secretKeyRef) instead of writing it in the file',
          });
        }
      }
    }
    if (!isWorkload(o)) continue;
    for (const { container: c, path } of containers(o)) {
      for (const e of c.env ?? []) {
        if (e.value === undefined || e.value === '') continue;
        if (CREDENTIAL_NAME.test(e.name)) {
          findings.push({
            object: ref(o),
            field: `${path}.env[${e.name}]`,
            problem: 'a credential-named variable has a literal value',
            fix: 'use valueFrom.secretKeyRef with a Secret from scripts/lib/secrets/spec.ts',
          });
        }
        const url = URL_CREDENTIAL.exec(e.value);
        if (url?.[1] !== undefined && !isEnvReference(url[1])) {
          findings.push({
            object: ref(o),
            field: `${path}.env[${e.name}]`,
            problem: 'a URL embeds a literal password',
            fix: 'put $(VAR) in the URL, with VAR from a secretKeyRef defined earlier in env',
          });
        }
      }
    }
  }
  return findings;
}

// What `doctor` reports and `up` refuses to start without. Pure: each check reads facts a probe
// gathered (scripts/lib/lifecycle/probe.ts) and says ok / warn / fail with a fix.
import { type DockerInfo, imageTransfer, MINIMUM_ENGINE } from '../tools/docker.js';
import { versionAtLeast, type ToolPins } from '../config/pins.js';
import { PORT_KEYS, PORTS, type Profile, type Settings } from '../config/settings.js';

export type Level = 'ok' | 'warn' | 'fail' | 'info';

export interface Check {
  id: string;
  title: string;
  level: Level;
  detail: string;
  fix?: string;
}

export interface PortFact {
  port: number;
  /** what uses it (a docs/contract.md host port, or the registry) */
  what: string;
  /** the environment variable that moves it, e.g. MAILKIND_PORT_KUMO_HTTP */
  env?: string;
  free: boolean;
  /** published by this toolkit's own cluster or registry: not a conflict */
  ours: boolean;
}

export interface Facts {
  platform: NodeJS.Platform;
  docker: DockerInfo;
  kind?: string;
  kubectl?: string;
  tilt?: string;
  /** a standalone kustomize on PATH (Tilt prefers it to kubectl's) */
  kustomize?: string;
  ports: PortFact[];
  inotify?: { maxUserWatches: number; maxUserInstances: number };
  /** free bytes where the repository (and so the offline bundle, secrets) lives */
  freeDiskBytes?: number;
}

const GiB = 1024 ** 3;

/** Memory the Docker VM/host should offer per profile: the manifests' limits plus the kind node. */
export const MEMORY_NEEDS: Record<Profile, { fail: number; warn: number }> = {
  full: { fail: 4 * GiB, warn: 6 * GiB },
  minimal: { fail: 2 * GiB, warn: 3 * GiB },
};

export const INOTIFY_WANTED = { maxUserWatches: 524_288, maxUserInstances: 512 };

function gib(bytes: number): string {
  return `${(bytes / GiB).toFixed(1)} GiB`;
}

export function dockerChecks(docker: DockerInfo, profile: Profile): Check[] {
  if (!docker.reachable) {
    const missing = /not found/.test(docker.error ?? '');
    return [
      {
        id: 'docker',
        title: 'Docker daemon',
        level: 'fail',
        detail: docker.error ?? 'not reachable',
        fix: missing
          ? 'install Docker (Desktop, Engine, OrbStack or colima): https://docs.docker.com/get-docker/'
          : 'start Docker (Docker Desktop / OrbStack / `colima start` / `sudo systemctl start docker`) and check `docker info` works',
      },
    ];
  }
  const need = MEMORY_NEEDS[profile];
  const mem = docker.memTotalBytes;
  const memCheck: Check = {
    id: 'docker-memory',
    title: 'Docker memory',
    level: mem < need.fail ? 'fail' : mem < need.warn ? 'warn' : 'ok',
    detail: `${gib(mem)} for containers (profile ${profile} wants ${gib(need.warn)}, needs ${gib(need.fail)})`,
    fix:
      mem < need.warn
        ? profile === 'full'
          ? 'give Docker more memory (Docker Desktop: Settings > Resources), or use --profile minimal'
          : 'give Docker more memory (Docker Desktop: Settings > Resources)'
        : undefined,
  };
  const cpuCheck: Check = {
    id: 'docker-cpus',
    title: 'Docker CPUs',
    level: docker.cpus < 2 ? 'warn' : 'ok',
    detail: `${docker.cpus} CPU(s)`,
    fix: docker.cpus < 2 ? 'give Docker at least 2 CPUs; with 1 everything starts slowly and rollouts may time out' : undefined,
  };
  return [engineCheck(docker), memCheck, cpuCheck];
}

/** The engine, the CLI and the image store together: what `up` and `bundle` can do with them. */
export function engineCheck(docker: DockerInfo): Check {
  const what = `${docker.serverVersion} (${docker.operatingSystem || docker.osType}, ${docker.architecture}), ${docker.imageStore} image store (${docker.storageDriver || 'driver unknown'}), CLI ${docker.clientVersion || 'unknown'}`;
  const transfer = imageTransfer(docker);
  if (!transfer.ok) return { id: 'docker', title: 'Docker daemon', level: 'fail', detail: `${what}: ${transfer.reason}`, fix: transfer.fix };
  const majorVersion = Number(/^(\d+)\./.exec(docker.serverVersion)?.[1] ?? 0);
  if (majorVersion < MINIMUM_ENGINE[docker.imageStore]) {
    return { id: 'docker', title: 'Docker daemon', level: 'warn', detail: `${what}: older than Docker ${MINIMUM_ENGINE[docker.imageStore]}, not supported`, fix: 'upgrade Docker (Docker Desktop: Check for updates)' };
  }
  return { id: 'docker', title: 'Docker daemon', level: 'ok', detail: what };
}

/**
 * The manifests use `labels[].includeTemplates`, which kustomize's Labels type gained in
 * kubernetes-sigs/kustomize PR 4209 (late 2021); older kustomize rejects the field. We hold a
 * standalone kustomize to the first v5, which the manifests are checked with.
 */
export const KUSTOMIZE_MINIMUM = 'v5.0.0';

export function toolChecks(facts: Pick<Facts, 'kind' | 'kubectl' | 'tilt' | 'kustomize'>, pins: ToolPins, needKind: boolean): Check[] {
  const install = 'run `npm run doctor -- --install-tools` (pinned copies into .mailkind/bin), or install it yourself';
  const out: Check[] = [];
  if (needKind) {
    out.push(
      !facts.kind
        ? { id: 'kind', title: 'kind', level: 'fail', detail: 'not found on PATH or in .mailkind/bin', fix: install }
        : !versionAtLeast(facts.kind, pins.kind.minimum)
          ? { id: 'kind', title: 'kind', level: 'fail', detail: `${facts.kind} is older than ${pins.kind.minimum}`, fix: install }
          : { id: 'kind', title: 'kind', level: 'ok', detail: facts.kind },
    );
  }
  out.push(
    !facts.kubectl
      ? { id: 'kubectl', title: 'kubectl', level: 'fail', detail: 'not found on PATH or in .mailkind/bin', fix: install }
      : !versionAtLeast(facts.kubectl, pins.kubectl.minimum)
        ? { id: 'kubectl', title: 'kubectl', level: 'fail', detail: `${facts.kubectl} is older than ${pins.kubectl.minimum} (kustomize v5 needed)`, fix: install }
        : { id: 'kubectl', title: 'kubectl', level: 'ok', detail: facts.kubectl },
  );
  out.push(
    !facts.tilt
      ? { id: 'tilt', title: 'tilt (optional)', level: 'info', detail: 'not installed: only `tilt up` needs it', fix: `\`npm run doctor -- --install-tools\` (the official ${pins.tilt.version} into .mailkind/bin)` }
      : !versionAtLeast(facts.tilt, pins.tilt.minimum)
        ? { id: 'tilt', title: 'tilt (optional)', level: 'warn', detail: `${facts.tilt} is older than ${pins.tilt.minimum} (the Tiltfile's minimum)`, fix: `\`npm run doctor -- --install-tools\` (the official ${pins.tilt.version} into .mailkind/bin)` }
        : { id: 'tilt', title: 'tilt (optional)', level: 'ok', detail: facts.tilt },
  );
  // Tilt's kustomize() runs a standalone kustomize when there is one on PATH (finding 11)
  if (facts.tilt && facts.kustomize) {
    out.push(
      versionAtLeast(facts.kustomize, KUSTOMIZE_MINIMUM)
        ? { id: 'kustomize', title: 'kustomize (Tilt uses it)', level: 'ok', detail: facts.kustomize }
        : {
            id: 'kustomize',
            title: 'kustomize (Tilt uses it)',
            level: 'warn',
            detail: `${facts.kustomize} on PATH is older than ${KUSTOMIZE_MINIMUM}: Tilt's kustomize() runs it instead of kubectl's and it rejects labels.includeTemplates in manifests/`,
            fix: 'upgrade it (https://kubectl.docs.kubernetes.io/installation/kustomize/) or remove it from PATH (Tilt then uses `kubectl kustomize`)',
          },
    );
  }
  return out;
}

export function portChecks(ports: readonly PortFact[]): Check[] {
  return ports.map((p) =>
    p.free || p.ours
      ? { id: `port-${p.port}`, title: `port ${p.port}`, level: 'ok', detail: p.ours ? `${p.what} (already ours)` : `free (${p.what})` }
      : {
          id: `port-${p.port}`,
          title: `port ${p.port}`,
          level: 'fail',
          detail: `in use by another program (needed for ${p.what})`,
          fix: `stop what listens there (\`lsof -nP -iTCP:${p.port} -sTCP:LISTEN\`)${p.env ? ` or move it: \`${p.env}=<free port> npm run up\`` : ''}`,
        },
  );
}

export function inotifyCheck(platform: NodeJS.Platform, inotify: Facts['inotify']): Check[] {
  if (platform !== 'linux' || !inotify) return [];
  const low = inotify.maxUserWatches < INOTIFY_WANTED.maxUserWatches || inotify.maxUserInstances < INOTIFY_WANTED.maxUserInstances;
  return [
    {
      id: 'inotify',
      title: 'inotify limits',
      level: low ? 'warn' : 'ok',
      detail: `max_user_watches ${inotify.maxUserWatches}, max_user_instances ${inotify.maxUserInstances}`,
      fix: low
        ? `sudo sysctl fs.inotify.max_user_watches=${INOTIFY_WANTED.maxUserWatches} fs.inotify.max_user_instances=${INOTIFY_WANTED.maxUserInstances} (kind and Tilt share these; "too many open files" otherwise)`
        : undefined,
    },
  ];
}

export function diskCheck(freeBytes: number | undefined): Check[] {
  if (freeBytes === undefined) return [];
  const level: Level = freeBytes < 3 * GiB ? 'fail' : freeBytes < 10 * GiB ? 'warn' : 'ok';
  return [
    {
      id: 'disk',
      title: 'free disk',
      level,
      detail: `${gib(freeBytes)} free here (images take ~3 GiB; a node under disk pressure evicts pods)`,
      fix: level === 'ok' ? undefined : 'free space, e.g. `docker system prune` (removes unused images and containers)',
    },
  ];
}

/** Every check doctor shows. `external`: a --context cluster, so kind and the ports do not matter. */
export function allChecks(facts: Facts, pins: ToolPins, settings: Pick<Settings, 'profile' | 'external'>): Check[] {
  return [
    ...dockerChecks(facts.docker, settings.profile),
    ...toolChecks(facts, pins, !settings.external),
    ...(settings.external ? [] : portChecks(facts.ports)),
    ...inotifyCheck(facts.platform, facts.inotify),
    ...diskCheck(facts.freeDiskBytes),
  ];
}

export function blockers(checks: readonly Check[]): Check[] {
  return checks.filter((c) => c.level === 'fail');
}

/** The ports preflight looks at: every docs/contract.md host port, plus the local registry's, each with the variable that moves it. */
export function wantedPorts(settings: Pick<Settings, 'ports' | 'registry'>): { port: number; what: string; env: string }[] {
  return [
    ...PORT_KEYS.map((k) => ({ port: settings.ports[k], what: PORTS[k].what, env: PORTS[k].env })),
    { port: settings.registry.port, what: 'local image registry', env: 'MAILKIND_REGISTRY_PORT' },
  ];
}

const MARK: Record<Level, string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', info: '--' };

/** The doctor table: one row per check, its fix on the next row (level undefined). */
export function checkTable(checks: readonly Check[]): { level?: Level; text: string }[] {
  const w = Math.max(...checks.map((c) => c.title.length), 5);
  const out: { level?: Level; text: string }[] = [];
  for (const c of checks) {
    out.push({ level: c.level, text: `${MARK[c.level].padEnd(4)}  ${c.title.padEnd(w)}  ${c.detail}` });
    if (c.fix && c.level !== 'ok') out.push({ text: `${' '.repeat(6 + w)}  fix: ${c.fix}` });
  }
  return out;
}

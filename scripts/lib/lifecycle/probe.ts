// Gathers the facts checks.ts judges: Docker, tool versions, host ports, inotify, disk.
// The side-effect half of preflight.
import { readFile, statfs } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Facts, PortFact } from './checks.js';
import { wantedPorts } from './checks.js';
import { controlPlaneName, portsPublishedBy } from './cluster.js';
import type { Docker, DockerInfo } from '../tools/docker.js';
import type { Kind } from '../tools/kind.js';
import type { Kubectl } from '../tools/kubectl.js';
import type { Settings } from '../config/settings.js';
import type { Tilt } from '../tools/tilt.js';

/** Whether `host:port` can be bound now (it is released again at once). */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function readNumber(path: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(path, 'utf8')).trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

export interface ProbeTools {
  docker: Docker;
  kind: Kind;
  kubectl: Kubectl;
  tilt?: Tilt;
}

export async function probePorts(settings: Settings, docker: Docker, dockerUp: boolean): Promise<PortFact[]> {
  let ours = new Set<number>();
  if (dockerUp && !settings.external) {
    const [node, registry] = await Promise.all([docker.container(controlPlaneName(settings.cluster)), docker.container(settings.registry.name)]);
    ours = new Set([...portsPublishedBy(node), ...portsPublishedBy(registry)]);
  }
  return Promise.all(
    wantedPorts(settings).map(async ({ port, what, env }) => ({ port, what, env, ours: ours.has(port), free: ours.has(port) ? false : await portFree('127.0.0.1', port) })),
  );
}

export async function probe(settings: Settings, tools: ProbeTools, dockerInfo?: DockerInfo): Promise<Facts> {
  const docker = dockerInfo ?? (await tools.docker.info());
  const [kind, kubectl, tilt, kustomize, ports, watches, instances, disk] = await Promise.all([
    settings.external ? Promise.resolve(undefined) : tools.kind.version(),
    tools.kubectl.clientVersion(),
    tools.tilt ? tools.tilt.version() : Promise.resolve(undefined),
    tools.tilt ? tools.tilt.kustomizeVersion() : Promise.resolve(undefined),
    probePorts(settings, tools.docker, docker.reachable),
    readNumber('/proc/sys/fs/inotify/max_user_watches'),
    readNumber('/proc/sys/fs/inotify/max_user_instances'),
    statfs(settings.paths.root).then(
      (s) => s.bavail * s.bsize,
      () => undefined,
    ),
  ]);
  return {
    platform: process.platform,
    docker,
    kind,
    kubectl,
    tilt,
    kustomize,
    ports,
    inotify: watches !== undefined && instances !== undefined ? { maxUserWatches: watches, maxUserInstances: instances } : undefined,
    freeDiskBytes: disk,
  };
}

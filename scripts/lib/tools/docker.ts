// The docker CLI, as the bootstrap uses it. Every method goes through the Runner seam.
import { createHash } from 'node:crypto';
import type { RunResult, Runner } from './runner.js';

/** Where the engine keeps images: the classic graph drivers, or containerd's snapshotters. */
export type ImageStore = 'classic' | 'containerd';

export interface DockerInfo {
  reachable: boolean;
  /** why not, in Docker's words (first server error line) */
  error?: string;
  serverVersion: string;
  memTotalBytes: number;
  cpus: number;
  /** docker's own words: x86_64, aarch64 */
  architecture: string;
  osType: string;
  /** Docker Desktop, OrbStack, colima... (OperatingSystem) */
  operatingSystem: string;
  rootDir: string;
  /** the docker CLI's own version (ClientInfo.Version): flags like `save --platform` are the CLI's */
  clientVersion: string;
  /** the image store: containerd when `docker info` names the containerd snapshotter */
  imageStore: ImageStore;
  /** Driver, e.g. overlay2 (classic) or overlayfs (containerd snapshotter) */
  storageDriver: string;
}

export interface ContainerState {
  exists: boolean;
  running: boolean;
  image: string;
  /** container port "30800/tcp" -> host bindings */
  portBindings: Record<string, { HostIp?: string; HostPort?: string }[] | null>;
  networks: string[];
  labels: Record<string, string>;
  /** when it last started (RFC 3339), if it ever did */
  startedAt?: string;
}

const NO_CONTAINER: ContainerState = { exists: false, running: false, image: '', portBindings: {}, networks: [], labels: {} };

export function parseDockerInfo(stdout: string, exitCode: number, stderr: string): DockerInfo {
  let doc: Record<string, unknown> = {};
  try {
    doc = JSON.parse(stdout || '{}') as Record<string, unknown>;
  } catch {
    /* a daemon error leaves no JSON: handled below */
  }
  const serverErrors = (doc.ServerErrors as string[] | undefined) ?? [];
  const serverVersion = typeof doc.ServerVersion === 'string' ? doc.ServerVersion : '';
  const reachable = exitCode === 0 && serverVersion !== '' && serverErrors.length === 0;
  const error = reachable ? undefined : (serverErrors[0] ?? stderr.split('\n').find((l) => l.trim()) ?? 'docker info failed').trim();
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  // moby reports the containerd store as DriverStatus [["driver-type", "io.containerd.snapshotter.v1"]]
  // (daemon/containerd/service.go, moby v29); the classic store lists graph driver details there
  const driverStatus = Array.isArray(doc.DriverStatus) ? (doc.DriverStatus as unknown[][]) : [];
  const containerd = driverStatus.some((p) => Array.isArray(p) && p[0] === 'driver-type' && String(p[1]).startsWith('io.containerd.snapshotter'));
  const client = doc.ClientInfo && typeof doc.ClientInfo === 'object' ? (doc.ClientInfo as Record<string, unknown>) : {};
  return {
    reachable,
    error,
    serverVersion,
    memTotalBytes: Number(doc.MemTotal ?? 0),
    cpus: Number(doc.NCPU ?? 0),
    architecture: str(doc.Architecture),
    osType: str(doc.OSType),
    operatingSystem: str(doc.OperatingSystem),
    rootDir: str(doc.DockerRootDir),
    clientVersion: str(client.Version),
    imageStore: containerd ? 'containerd' : 'classic',
    storageDriver: str(doc.Driver),
  };
}

/** linux/amd64 or linux/arm64 for docker's Architecture string. */
export function platformOf(architecture: string): string {
  if (/^(x86_64|amd64)$/.test(architecture)) return 'linux/amd64';
  if (/^(aarch64|arm64)$/.test(architecture)) return 'linux/arm64';
  return `linux/${architecture}`;
}

function major(version: string): number {
  return Number(/^v?(\d+)\./.exec(version)?.[1] ?? 0);
}

/**
 * `docker image save --platform` needs both a CLI and an engine of Docker 28 or newer (API 1.48;
 * docker/cli v28.0.0 cli/command/image/save.go adds the flag, an older CLI fails with "unknown
 * flag: --platform"; moby v28.0.0 api/server/router/image reads `platform` from API 1.48). It is
 * what avoids kind's "content digest not found" with the containerd image store (kind#3795).
 * An unknown CLI version (an old `docker info` without ClientInfo) counts as old.
 */
export function supportsSavePlatform(serverVersion: string, clientVersion: string): boolean {
  return major(serverVersion) >= 28 && major(clientVersion) >= 28;
}

/** The oldest engine the toolkit supports per image store (docs/testing-docker.md, "Docker engines supported"). */
export const MINIMUM_ENGINE: Record<ImageStore, number> = { classic: 27, containerd: 28 };

/**
 * Whether images can be saved for kind on this engine, and how. The classic store saves the one
 * platform it holds; the containerd store before 28 saves the whole index without the platforms
 * never pulled, which kind's `ctr images import --all-platforms` rejects ("content digest ... not
 * found", kind#3795; moby v27.5 daemon/containerd/image_exporter.go exports the index as is), and
 * it has no `--platform` to avoid that.
 */
export function imageTransfer(d: Pick<DockerInfo, 'serverVersion' | 'clientVersion' | 'imageStore'>): { ok: true; savePlatform: boolean } | { ok: false; reason: string; fix: string } {
  const savePlatform = supportsSavePlatform(d.serverVersion, d.clientVersion);
  if (d.imageStore === 'containerd' && !savePlatform) {
    const old = major(d.serverVersion) < 28 ? `Docker ${d.serverVersion}` : `the docker CLI ${d.clientVersion || '(unknown version)'}`;
    return {
      ok: false,
      reason: `${old} with the containerd image store cannot save one platform of an image, and kind cannot load the whole index (kind issue 3795)`,
      fix: major(d.serverVersion) < 28
        ? 'upgrade to Docker 28 or newer (Docker Desktop 4.39+), or turn off "Use containerd for pulling and storing images"'
        : 'upgrade the docker CLI to 28 or newer (it is older than the engine)',
    };
  }
  return { ok: true, savePlatform };
}

export class Docker {
  constructor(private readonly run: Runner) {}

  async info(): Promise<DockerInfo> {
    const r = await this.run('docker', ['info', '--format', '{{json .}}'], { reject: false, timeoutMs: 20_000 });
    if (r.notFound) return { ...parseDockerInfo('', 1, ''), error: 'docker: not found on PATH' };
    if (r.timedOut) return { ...parseDockerInfo('', 1, ''), error: 'docker info timed out (the daemon does not answer)' };
    return parseDockerInfo(r.stdout, r.exitCode, r.stderr);
  }

  async container(name: string): Promise<ContainerState> {
    const r = await this.run('docker', ['container', 'inspect', name], { reject: false, timeoutMs: 20_000 });
    if (r.exitCode !== 0) return NO_CONTAINER;
    const [c] = JSON.parse(r.stdout) as {
      State?: { Running?: boolean; StartedAt?: string };
      Config?: { Image?: string; Labels?: Record<string, string> };
      HostConfig?: { PortBindings?: ContainerState['portBindings'] };
      NetworkSettings?: { Networks?: Record<string, unknown> };
    }[];
    if (!c) return NO_CONTAINER;
    return {
      exists: true,
      running: c.State?.Running === true,
      image: c.Config?.Image ?? '',
      portBindings: c.HostConfig?.PortBindings ?? {},
      networks: Object.keys(c.NetworkSettings?.Networks ?? {}),
      labels: c.Config?.Labels ?? {},
      // Go's zero time for a container that never ran
      startedAt: c.State?.StartedAt && !c.State.StartedAt.startsWith('0001-') ? c.State.StartedAt : undefined,
    };
  }

  /** The local image ID of `ref`, or undefined when it is not on the host. */
  async imageId(ref: string): Promise<string | undefined> {
    const r = await this.run('docker', ['image', 'inspect', '--format', '{{.Id}}', ref], { reject: false, timeoutMs: 20_000 });
    return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
  }

  /** `linux/amd64` (os/architecture) of a local image, or undefined when it is not on the host. */
  async imagePlatform(ref: string): Promise<string | undefined> {
    const r = await this.run('docker', ['image', 'inspect', '--format', '{{.Os}}/{{.Architecture}}', ref], { reject: false, timeoutMs: 20_000 });
    return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
  }

  /**
   * What the image is, independent of when it was built and of the image store: a hash of its
   * layers and config. The containerd store's image ID is the digest of an index that carries
   * BuildKit's provenance attestation, which has timestamps, so a fully cached rebuild gets a new
   * ID (finding 3); the layers and config of a cached build do not change.
   */
  async imageIdentity(ref: string): Promise<string | undefined> {
    const r = await this.run('docker', ['image', 'inspect', '--format', '{{json .RootFS.Layers}} {{json .Config}} {{.Os}}/{{.Architecture}}', ref], { reject: false, timeoutMs: 20_000 });
    if (r.exitCode !== 0 || !r.stdout.trim()) return undefined;
    return `sha256:${createHash('sha256').update(r.stdout.trim()).digest('hex')}`;
  }

  async pull(ref: string, platform: string): Promise<void> {
    await this.run('docker', ['pull', '--quiet', '--platform', platform, ref], { timeoutMs: 15 * 60_000 });
  }

  async save(refs: readonly string[], output: string, platform: string | undefined): Promise<void> {
    const args = ['image', 'save', ...(platform ? ['--platform', platform] : []), '--output', output, ...refs];
    await this.run('docker', args, { timeoutMs: 15 * 60_000 });
  }

  async load(archive: string): Promise<void> {
    await this.run('docker', ['image', 'load', '--quiet', '--input', archive], { timeoutMs: 15 * 60_000 });
  }

  async build(opts: { context: string; dockerfile: string; tag: string; platform?: string }): Promise<void> {
    const args = ['build', '--quiet', '--file', opts.dockerfile, '--tag', opts.tag, ...(opts.platform ? ['--platform', opts.platform] : []), opts.context];
    // no default provenance attestation (buildx reads this; the legacy builder makes none): with
    // the containerd store it turns the image into an index whose digest changes on every build
    await this.run('docker', args, { timeoutMs: 15 * 60_000, env: { BUILDX_NO_DEFAULT_ATTESTATIONS: '1' } });
  }

  async tag(source: string, target: string): Promise<void> {
    await this.run('docker', ['image', 'tag', source, target]);
  }

  async push(ref: string): Promise<void> {
    await this.run('docker', ['image', 'push', '--quiet', ref], { timeoutMs: 15 * 60_000 });
  }

  async runDetached(args: readonly string[]): Promise<void> {
    await this.run('docker', ['run', '--detach', ...args], { timeoutMs: 5 * 60_000 });
  }

  async start(name: string): Promise<void> {
    await this.run('docker', ['start', name], { timeoutMs: 60_000 });
  }

  async removeContainer(name: string): Promise<boolean> {
    const r = await this.run('docker', ['rm', '--force', name], { reject: false, timeoutMs: 60_000 });
    return r.exitCode === 0;
  }

  async networkConnect(network: string, container: string): Promise<void> {
    await this.run('docker', ['network', 'connect', network, container]);
  }

  /**
   * `docker run` of a one-shot container (the caller passes --rm): the result whatever the exit
   * code, so the program's own error text reaches the user unchanged.
   */
  async runOnce(args: readonly string[], timeoutMs = 5 * 60_000): Promise<RunResult> {
    return this.run('docker', args, { reject: false, timeoutMs });
  }

  /** The registry's manifest (list) of `ref` as JSON, without pulling; the result either way. */
  async manifestInspect(ref: string): Promise<RunResult> {
    return this.run('docker', ['manifest', 'inspect', ref], { reject: false, timeoutMs: 60_000 });
  }

  /** The image's Config.User ('' when it has no USER). The image must be local. */
  async imageUser(ref: string): Promise<string> {
    const r = await this.run('docker', ['image', 'inspect', '--format', '{{.Config.User}}', ref], { timeoutMs: 20_000 });
    return r.stdout.trim();
  }

  /** Runs a command in a container, `input` on its stdin. */
  async exec(container: string, command: readonly string[], input?: string): Promise<string> {
    const r = await this.run('docker', ['exec', ...(input === undefined ? [] : ['-i']), container, ...command], { input, timeoutMs: 60_000 });
    return r.stdout;
  }
}

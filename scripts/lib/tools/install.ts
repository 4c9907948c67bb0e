// `doctor --install-tools`: pinned kind, kubectl and tilt into the project-local bin directory,
// each verified against the checksum file its release publishes before it is made executable.
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../cli/errors.js';
import type { ToolPins } from '../config/pins.js';
import type { Tar } from './tar.js';

export interface Download {
  tool: 'kind' | 'kubectl' | 'tilt';
  version: string;
  url: string;
  checksumUrl: string;
  /** a .tar.gz release: the executable is this member of it (the checksum covers the archive) */
  archiveMember?: string;
  /** a checksum file listing every asset ("<hash>  <name>" lines): the name to look up */
  checksumName?: string;
}

/** Where each release lives; the bases can be overridden (a mirror, or a test server). */
export const DOWNLOAD_BASES = {
  kind: 'https://github.com/kubernetes-sigs/kind/releases/download',
  kubectl: 'https://dl.k8s.io/release',
  tilt: 'https://github.com/tilt-dev/tilt/releases/download',
};

export function goArch(arch: string): string {
  if (arch === 'x64') return 'amd64';
  if (arch === 'arm64') return 'arm64';
  throw new UserError(`no kind/kubectl/tilt release for the CPU architecture "${arch}"`, 'install them with your package manager');
}

/**
 * tilt's release archive for a platform, as its goreleaser config names them (tilt v0.37.6
 * .goreleaser.yml `archives`, the same names scripts/install.sh downloads):
 * tilt.<version without v>.<linux|mac>.<x86_64|arm64>.tar.gz, the binary `tilt` at its top.
 */
export function tiltAsset(version: string, platform: 'linux' | 'darwin', arch: string): string {
  const os = platform === 'darwin' ? 'mac' : 'linux';
  const cpu = goArch(arch) === 'amd64' ? 'x86_64' : 'arm64';
  return `tilt.${version.replace(/^v/, '')}.${os}.${cpu}.tar.gz`;
}

export function downloads(pins: ToolPins, platform: NodeJS.Platform, arch: string, env: NodeJS.ProcessEnv = {}): Download[] {
  if (platform !== 'linux' && platform !== 'darwin') throw new UserError(`--install-tools supports Linux and macOS, not ${platform}`, 'install kind, kubectl and tilt yourself (docs/lifecycle.md)');
  const a = goArch(arch);
  const kindBase = env.MAILKIND_KIND_DOWNLOAD_BASE ?? DOWNLOAD_BASES.kind;
  const kubectlBase = env.MAILKIND_KUBECTL_DOWNLOAD_BASE ?? DOWNLOAD_BASES.kubectl;
  const tiltBase = env.MAILKIND_TILT_DOWNLOAD_BASE ?? DOWNLOAD_BASES.tilt;
  // kind publishes kind-<os>-<arch> and kind-<os>-<arch>.sha256sum ("<hash>  <file>");
  // Kubernetes publishes bin/<os>/<arch>/kubectl and kubectl.sha256 (the bare hash);
  // tilt publishes tar.gz archives and one checksums.txt for all of them (goreleaser `checksum`)
  const kindUrl = `${kindBase}/${pins.kind.version}/kind-${platform}-${a}`;
  const kubectlUrl = `${kubectlBase}/${pins.kubectl.version}/bin/${platform}/${a}/kubectl`;
  const tiltFile = tiltAsset(pins.tilt.version, platform, arch);
  return [
    { tool: 'kind', version: pins.kind.version, url: kindUrl, checksumUrl: `${kindUrl}.sha256sum` },
    { tool: 'kubectl', version: pins.kubectl.version, url: kubectlUrl, checksumUrl: `${kubectlUrl}.sha256` },
    {
      tool: 'tilt',
      version: pins.tilt.version,
      url: `${tiltBase}/${pins.tilt.version}/${tiltFile}`,
      checksumUrl: `${tiltBase}/${pins.tilt.version}/checksums.txt`,
      archiveMember: 'tilt',
      checksumName: tiltFile,
    },
  ];
}

/** The hex SHA-256 in a checksum file: the bare hash, "<hash>  <name>", or, with `name`, that name's line of a list. */
export function parseChecksum(text: string, name?: string): string {
  const line = name === undefined ? text.trim() : text.split('\n').find((l) => l.trim().split(/\s+\*?/)[1] === name);
  if (line === undefined) throw new UserError(`the published checksum file does not list ${name ?? 'the download'}`, 'check the version pins in versions.json, or install the tool yourself');
  const m = /^([0-9a-f]{64})\b/i.exec(line.trim());
  if (!m) throw new UserError('the published checksum file holds no SHA-256', 'try again later, or install the tool yourself');
  return m[1]!.toLowerCase();
}

async function fetchBytes(url: string, fetchImpl: typeof fetch): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetchImpl(url, { redirect: 'follow', signal: AbortSignal.timeout(300_000) });
  } catch (e) {
    throw new UserError(`cannot download ${url}: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}`, 'check the network or proxy');
  }
  if (!res.ok) throw new UserError(`download of ${url} failed: HTTP ${res.status}`, 'check the version pins in versions.json and the network');
  return Buffer.from(await res.arrayBuffer());
}

/** Downloads, verifies and installs one tool; nothing is left behind when the checksum differs. */
export async function installTool(d: Download, binDir: string, fetchImpl: typeof fetch = fetch, tar?: Tar): Promise<string> {
  const [downloaded, sums] = await Promise.all([fetchBytes(d.url, fetchImpl), fetchBytes(d.checksumUrl, fetchImpl)]);
  const want = parseChecksum(sums.toString('utf8'), d.checksumName);
  const got = createHash('sha256').update(downloaded).digest('hex');
  if (got !== want) {
    throw new UserError(`${d.tool} ${d.version}: checksum mismatch (published ${want.slice(0, 12)}..., downloaded ${got.slice(0, 12)}...): not installed`, 'try again; if it persists, the download is being altered on the way');
  }
  await mkdir(binDir, { recursive: true });
  const body = d.archiveMember === undefined ? downloaded : await unpack(d, downloaded, binDir, tar);
  const target = join(binDir, d.tool);
  const tmp = `${target}.${process.pid}.part`;
  try {
    await writeFile(tmp, body, { mode: 0o755 });
    await chmod(tmp, 0o755);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return target;
}

/** The executable inside a verified release archive. */
async function unpack(d: Download, archive: Buffer, binDir: string, tar: Tar | undefined): Promise<Buffer> {
  if (!tar || d.archiveMember === undefined) throw new Error(`${d.tool}: an archive download needs the tar wrapper`);
  const dir = await mkdtemp(join(binDir, `.${d.tool}-unpack-`));
  try {
    await writeFile(join(dir, 'release.tar.gz'), archive);
    try {
      await tar.extract(join(dir, 'release.tar.gz'), d.archiveMember, dir);
    } catch (e) {
      throw new UserError(`${d.tool} ${d.version}: the release archive has no ${d.archiveMember} (${e instanceof Error ? e.message : String(e)}): not installed`, 'install it yourself (docs/tilt.md)');
    }
    return await readFile(join(dir, d.archiveMember));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The mailkind commands find tools in .mailkind/bin themselves; `tilt up` (which runs kubectl and
 * the Tiltfile's commands) and your own shell do not. When binDir holds a tool and is not on PATH:
 * the line that puts it there, else undefined.
 */
export function pathHint(binDir: string, path: string, exists: (p: string) => boolean): string | undefined {
  const installed = (['kind', 'kubectl', 'tilt'] as const).filter((t) => exists(join(binDir, t)));
  if (installed.length === 0 || path.split(':').includes(binDir)) return undefined;
  return `${binDir} holds ${installed.join(', ')}: the npm run commands use it; for \`tilt up\` and your shell, put it on PATH:\n  export PATH="${binDir}:$PATH"`;
}

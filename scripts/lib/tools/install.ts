// `doctor --install-tools`: pinned kind and kubectl into the project-local bin directory, each
// verified against the checksum file its release publishes before it is made executable.
import { createHash } from 'node:crypto';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../cli/errors.js';
import type { ToolPins } from '../config/pins.js';

export interface Download {
  tool: 'kind' | 'kubectl';
  version: string;
  url: string;
  checksumUrl: string;
}

/** Where each release lives; the bases can be overridden (a mirror, or a test server). */
export const DOWNLOAD_BASES = {
  kind: 'https://github.com/kubernetes-sigs/kind/releases/download',
  kubectl: 'https://dl.k8s.io/release',
};

export function goArch(arch: string): string {
  if (arch === 'x64') return 'amd64';
  if (arch === 'arm64') return 'arm64';
  throw new UserError(`no kind/kubectl release for the CPU architecture "${arch}"`, 'install them with your package manager');
}

export function downloads(pins: ToolPins, platform: NodeJS.Platform, arch: string, env: NodeJS.ProcessEnv = {}): Download[] {
  if (platform !== 'linux' && platform !== 'darwin') throw new UserError(`--install-tools supports Linux and macOS, not ${platform}`, 'install kind and kubectl yourself (see README)');
  const a = goArch(arch);
  const kindBase = env.MAILKIND_KIND_DOWNLOAD_BASE ?? DOWNLOAD_BASES.kind;
  const kubectlBase = env.MAILKIND_KUBECTL_DOWNLOAD_BASE ?? DOWNLOAD_BASES.kubectl;
  // kind publishes kind-<os>-<arch> and kind-<os>-<arch>.sha256sum ("<hash>  <file>");
  // Kubernetes publishes bin/<os>/<arch>/kubectl and kubectl.sha256 (the bare hash)
  const kindUrl = `${kindBase}/${pins.kind.version}/kind-${platform}-${a}`;
  const kubectlUrl = `${kubectlBase}/${pins.kubectl.version}/bin/${platform}/${a}/kubectl`;
  return [
    { tool: 'kind', version: pins.kind.version, url: kindUrl, checksumUrl: `${kindUrl}.sha256sum` },
    { tool: 'kubectl', version: pins.kubectl.version, url: kubectlUrl, checksumUrl: `${kubectlUrl}.sha256` },
  ];
}

/** The hex SHA-256 in a checksum file: either the bare hash or "<hash>  <name>". */
export function parseChecksum(text: string): string {
  const m = /^([0-9a-f]{64})\b/i.exec(text.trim());
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
export async function installTool(d: Download, binDir: string, fetchImpl: typeof fetch = fetch): Promise<string> {
  const [body, sums] = await Promise.all([fetchBytes(d.url, fetchImpl), fetchBytes(d.checksumUrl, fetchImpl)]);
  const want = parseChecksum(sums.toString('utf8'));
  const got = createHash('sha256').update(body).digest('hex');
  if (got !== want) {
    throw new UserError(`${d.tool} ${d.version}: checksum mismatch (published ${want.slice(0, 12)}..., downloaded ${got.slice(0, 12)}...): not installed`, 'try again; if it persists, the download is being altered on the way');
  }
  await mkdir(binDir, { recursive: true });
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

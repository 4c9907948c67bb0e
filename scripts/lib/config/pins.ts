// Every pinned version the bootstrap uses, read from where it is declared (never restated):
// workload images from manifests/base/kustomization.yaml `images:`, the kind node image from
// manifests/kind/cluster.yaml, tools and the registry image from versions.json.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export interface ToolPins {
  kind: { version: string; minimum: string };
  kubectl: { version: string; minimum: string };
  /** version: the official release `doctor --install-tools` installs (and tilt.sh builds); minimum: the Tiltfile's version_settings */
  tilt: { version: string; minimum: string };
  registry: { image: string };
}

export interface ImagePins {
  /** images pulled from registries, as `name:tag` (or `name@digest`) */
  pulled: string[];
  /** the locally built sink, `mailkind/smtp-sink:<tag>` */
  sink: string;
  /** the kind node image from the cluster config (name:tag@digest) */
  node: string;
}

export const SINK_IMAGE_NAME = 'mailkind/smtp-sink';

interface KustomizeImage {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

export function imagesFromKustomization(text: string): { pulled: string[]; sink: string } {
  const doc = parse(text) as { images?: KustomizeImage[] } | null;
  const pulled: string[] = [];
  let sink: string | undefined;
  for (const i of doc?.images ?? []) {
    const name = i.newName ?? i.name;
    const ref = i.digest ? `${name}@${i.digest}` : i.newTag ? `${name}:${i.newTag}` : undefined;
    if (!ref) throw new Error(`manifests/base/kustomization.yaml: image ${i.name} has no newTag or digest`);
    if (i.name === SINK_IMAGE_NAME) sink = ref;
    else pulled.push(ref);
  }
  if (!sink) throw new Error(`manifests/base/kustomization.yaml: no images: entry for ${SINK_IMAGE_NAME}`);
  return { pulled, sink };
}

export function nodeImageFromKindConfig(text: string): string {
  const doc = parse(text) as { nodes?: { image?: string }[] } | null;
  const images = [...new Set((doc?.nodes ?? []).map((n) => n.image).filter((i): i is string => Boolean(i)))];
  if (images.length !== 1) throw new Error(`manifests/kind/cluster.yaml: expected one pinned node image, found ${images.length}`);
  return images[0]!;
}

export function readImagePins(root: string): ImagePins {
  const k = imagesFromKustomization(readFileSync(join(root, 'manifests/base/kustomization.yaml'), 'utf8'));
  return { ...k, node: nodeImageFromKindConfig(readFileSync(join(root, 'manifests/kind/cluster.yaml'), 'utf8')) };
}

export function readToolPins(root: string): ToolPins {
  return JSON.parse(readFileSync(join(root, 'versions.json'), 'utf8')) as ToolPins;
}

/**
 * The name containerd (and so `crictl images` / `ctr images ls` on a kind node) gives an image:
 * Docker Hub's implicit registry and `library/` made explicit. `postgres:17` ->
 * `docker.io/library/postgres:17`.
 */
export function containerdName(ref: string): string {
  const slash = ref.indexOf('/');
  const first = slash === -1 ? '' : ref.slice(0, slash);
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  if (hasRegistry) return ref;
  return slash === -1 ? `docker.io/library/${ref}` : `docker.io/${ref}`;
}

/** `v1.36.1` / `1.36.1` / `kind v0.32.0 go1.26 linux/amd64` -> [1, 36, 1]; undefined if none. */
export function parseVersion(text: string): [number, number, number] | undefined {
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

export function versionAtLeast(have: string, minimum: string): boolean {
  const a = parseVersion(have);
  const b = parseVersion(minimum);
  if (!a || !b) return false;
  for (let i = 0; i < 3; i++) if (a[i]! !== b[i]!) return a[i]! > b[i]!;
  return true;
}

/** Images only the full profile runs (Mailman and its database); minimal neither pulls nor loads them. */
const FULL_PROFILE_ONLY = ['maxking/mailman-core', 'maxking/mailman-web', 'postgres'];

export function imagesForProfile(pulled: readonly string[], runsMailman: boolean): string[] {
  return runsMailman ? [...pulled] : pulled.filter((ref) => !FULL_PROFILE_ONLY.some((name) => ref.startsWith(`${name}:`) || ref.startsWith(`${name}@`)));
}

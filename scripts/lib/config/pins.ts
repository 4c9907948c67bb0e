// Every pinned version the bootstrap uses, read from where it is declared (never restated):
// workload images from manifests/base/kustomization.yaml `images:`, the kind node image from
// manifests/kind/cluster.yaml, tools and the registry image from versions.json.
//
// MAILKIND_PINS_OVERRIDE=<file.json> replaces image refs everywhere the npm path uses them (pull,
// load, bundle, the kind node image, the registry container, and the manifests through the
// generated overlay): a test seam (the docker tier points the pins at locally made images) and a
// way to use a mirror. Form:
//   {"images": {"<images[].name in the kustomization>": "<repo:tag | repo@sha256:... | repo:tag@sha256:...>"},
//    "kindNodeImage": "<ref>", "registryImage": "<ref>"}
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { SettingsError } from './settings.js';

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
  /** ref -> its images[].name in the kustomization (a mirror's ref says nothing of what it is) */
  names: Record<string, string>;
  /** kustomize `images:` entries the generated overlay applies (only for overridden images) */
  rewrites: KustomizeImage[];
}

/** The override file's content (MAILKIND_PINS_OVERRIDE). */
export interface PinsOverride {
  images?: Record<string, string>;
  kindNodeImage?: string;
  registryImage?: string;
}

export const PINS_OVERRIDE_ENV = 'MAILKIND_PINS_OVERRIDE';

/** A bad override file: exit 2 with the reason (it is configuration, like a bad flag). */
export class PinsOverrideError extends SettingsError {
  override name = 'PinsOverrideError';
}

export const SINK_IMAGE_NAME = 'mailkind/smtp-sink';

export interface KustomizeImage {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

/** `repo:tag@sha256:...` -> its parts; the tag is the last `:` after the last `/`. */
export function splitRef(ref: string): { name: string; tag?: string; digest?: string } {
  const at = ref.indexOf('@');
  const digest = at === -1 ? undefined : ref.slice(at + 1);
  const rest = at === -1 ? ref : ref.slice(0, at);
  const colon = rest.lastIndexOf(':');
  const tagged = colon > rest.lastIndexOf('/');
  return { name: tagged ? rest.slice(0, colon) : rest, tag: tagged ? rest.slice(colon + 1) : undefined, digest };
}

const REF = /^[a-z0-9][A-Za-z0-9._\-/:]*(@sha256:[0-9a-f]{64})?$/;

function checkRef(where: string, ref: unknown): string {
  if (typeof ref !== 'string' || !REF.test(ref)) throw new PinsOverrideError(`${where}: "${String(ref)}" is not an image reference (repo:tag or repo@sha256:<64 hex>)`);
  const { tag, digest } = splitRef(ref);
  if (!tag && !digest) throw new PinsOverrideError(`${where}: "${ref}" has neither a tag nor a digest (never an implicit latest)`);
  return ref;
}

/** Reads and checks the file MAILKIND_PINS_OVERRIDE names; undefined when the variable is unset. */
export function readPinsOverride(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): PinsOverride | undefined {
  const file = env[PINS_OVERRIDE_ENV];
  if (!file) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(resolve(cwd, file), 'utf8'));
  } catch (e) {
    throw new PinsOverrideError(`${PINS_OVERRIDE_ENV}=${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new PinsOverrideError(`${PINS_OVERRIDE_ENV}=${file}: not a JSON object`);
  const o = doc as Record<string, unknown>;
  const unknownKeys = Object.keys(o).filter((k) => !['images', 'kindNodeImage', 'registryImage', '$comment'].includes(k));
  if (unknownKeys.length) throw new PinsOverrideError(`${PINS_OVERRIDE_ENV}=${file}: unknown key(s) ${unknownKeys.join(', ')} (images, kindNodeImage, registryImage)`);
  const out: PinsOverride = {};
  if (o.images !== undefined) {
    if (!o.images || typeof o.images !== 'object' || Array.isArray(o.images)) throw new PinsOverrideError(`${PINS_OVERRIDE_ENV}=${file}: images must be an object of name -> ref`);
    out.images = Object.fromEntries(Object.entries(o.images).map(([k, v]) => [k, checkRef(`${file}: images.${k}`, v)]));
  }
  if (o.kindNodeImage !== undefined) out.kindNodeImage = checkRef(`${file}: kindNodeImage`, o.kindNodeImage);
  if (o.registryImage !== undefined) out.registryImage = checkRef(`${file}: registryImage`, o.registryImage);
  return out;
}

function refOf(i: KustomizeImage): string | undefined {
  const name = i.newName ?? i.name;
  return i.digest ? `${name}@${i.digest}` : i.newTag ? `${name}:${i.newTag}` : undefined;
}

/** The kustomize `images:` entry that makes `name` (as the base renders it) become `ref`. */
export function kustomizeImageFor(name: string, ref: string): KustomizeImage {
  const { name: newName, tag, digest } = splitRef(ref);
  // kustomize uses the digest when one is given (tag and digest together are not kept)
  return digest ? { name, newName, digest } : { name, newName, newTag: tag };
}

export function imagesFromKustomization(
  text: string,
  override: Record<string, string> = {},
): { pulled: string[]; sink: string; names: Record<string, string>; rewrites: KustomizeImage[] } {
  const doc = parse(text) as { images?: KustomizeImage[] } | null;
  const pulled: string[] = [];
  const names: Record<string, string> = {};
  const rewrites: KustomizeImage[] = [];
  let sink: string | undefined;
  const known = new Set((doc?.images ?? []).map((i) => i.name));
  const stray = Object.keys(override).filter((n) => !known.has(n));
  if (stray.length) throw new PinsOverrideError(`${PINS_OVERRIDE_ENV}: no images: entry named ${stray.join(', ')} in manifests/base/kustomization.yaml (names: ${[...known].join(', ')})`);
  for (const i of doc?.images ?? []) {
    const pinned = refOf(i);
    if (!pinned) throw new Error(`manifests/base/kustomization.yaml: image ${i.name} has no newTag or digest`);
    const wanted = override[i.name];
    const ref = wanted ?? pinned;
    // the base renders the image as newName (or name); the overlay renames from there
    if (wanted) rewrites.push(kustomizeImageFor(i.newName ?? i.name, wanted));
    names[ref] = i.name;
    if (i.name === SINK_IMAGE_NAME) sink = ref;
    else pulled.push(ref);
  }
  if (!sink) throw new Error(`manifests/base/kustomization.yaml: no images: entry for ${SINK_IMAGE_NAME}`);
  return { pulled, sink, names, rewrites };
}

export function nodeImageFromKindConfig(text: string): string {
  const doc = parse(text) as { nodes?: { image?: string }[] } | null;
  const images = [...new Set((doc?.nodes ?? []).map((n) => n.image).filter((i): i is string => Boolean(i)))];
  if (images.length !== 1) throw new Error(`manifests/kind/cluster.yaml: expected one pinned node image, found ${images.length}`);
  return images[0]!;
}

/** The image pins, with MAILKIND_PINS_OVERRIDE applied when `override` is given. */
export function readImagePins(root: string, override: PinsOverride = {}): ImagePins {
  const k = imagesFromKustomization(readFileSync(join(root, 'manifests/base/kustomization.yaml'), 'utf8'), override.images);
  const node = override.kindNodeImage ?? nodeImageFromKindConfig(readFileSync(join(root, 'manifests/kind/cluster.yaml'), 'utf8'));
  return { ...k, node };
}

export function readToolPins(root: string, override: PinsOverride = {}): ToolPins {
  const pins = JSON.parse(readFileSync(join(root, 'versions.json'), 'utf8')) as ToolPins;
  return override.registryImage ? { ...pins, registry: { ...pins.registry, image: override.registryImage } } : pins;
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

/** @param names ref -> kustomization name (ImagePins.names), so an overridden ref is still known */
export function imagesForProfile(pulled: readonly string[], runsMailman: boolean, names: Readonly<Record<string, string>> = {}): string[] {
  if (runsMailman) return [...pulled];
  return pulled.filter((ref) => {
    const name = names[ref] ?? splitRef(ref).name;
    return !FULL_PROFILE_ONLY.includes(name);
  });
}

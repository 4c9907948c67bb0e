// Which images the kind node still needs and where each comes from. Pure; up's images step acts.
// Loading goes through `docker image save --platform` + `kind load image-archive`, the path that
// works with Docker's containerd image store (kind#3795: `kind load docker-image` fails there on
// multi-platform images).
import { containerdName } from '../config/pins.js';

export interface ImagePlan {
  /** already on the node: nothing to do */
  present: string[];
  /** on the host, to be loaded into the node */
  load: string[];
  /** to be pulled on the host first (then loaded) */
  pull: string[];
  /** needed but neither on the node nor the host, and pulling is not allowed (--images) */
  unavailable: string[];
}

/**
 * @param nodeImages names from `ctr -n k8s.io images ls -q` on the node
 * @param onHost refs `docker image inspect` found on the host
 */
export function planImages(wanted: readonly string[], nodeImages: ReadonlySet<string>, onHost: ReadonlySet<string>, allowPull: boolean): ImagePlan {
  const plan: ImagePlan = { present: [], load: [], pull: [], unavailable: [] };
  for (const ref of wanted) {
    if (nodeImages.has(containerdName(ref))) plan.present.push(ref);
    else if (onHost.has(ref)) plan.load.push(ref);
    else if (allowPull) {
      plan.pull.push(ref);
      plan.load.push(ref);
    } else plan.unavailable.push(ref);
  }
  return plan;
}

/** Docker Hub's pull limit shows up as "toomanyrequests"; say what to do about it. */
export function pullFailureHint(message: string): string {
  if (/toomanyrequests|rate limit/i.test(message)) {
    return 'Docker Hub rate limit: `docker login` (free accounts get a higher limit), wait, or use an offline bundle (`npm run bundle`, then `npm run up -- --images <file>`)';
  }
  // classic store: "no matching manifest for linux/arm64 in the manifest list entries"; containerd
  // store: "no match for platform in manifest: not found" (containerd images.Manifest)
  if (/no matching manifest|no match for platform in manifest|not found: manifest unknown|unknown: manifest/i.test(message)) {
    return 'the image has no variant for this platform or the tag is gone: check the pin in manifests/base/kustomization.yaml';
  }
  if (/dial tcp|no such host|TLS handshake timeout|i\/o timeout|connection refused/i.test(message)) {
    return 'no network to the registry: check the connection or proxy, or use an offline bundle (`npm run up -- --images <file>`)';
  }
  return 'run `docker pull` on the image by hand to see the registry\'s full answer';
}

/** Runs `fn` over items, at most `limit` at a time, in order of completion; rejects with the first error after all settle. */
export async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const errors: unknown[] = [];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      try {
        await fn(item);
      } catch (e) {
        errors.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

/**
 * The tag a bundle gives an image pinned by digest (`name[:tag]@sha256:H` -> `name:sha256-H`).
 * `docker image save` of a digest reference drops the name on both image stores (moby
 * image/tarexport/save.go keeps only tagged references in RepoTags; daemon/containerd/
 * image_exporter.go names the export by tag), and a tag cannot carry a digest, so after `docker
 * load` the digest reference can never resolve again offline. The alias names exactly that pin.
 */
export function digestAlias(ref: string): string | undefined {
  const at = ref.indexOf('@sha256:');
  if (at === -1) return undefined;
  const rest = ref.slice(0, at);
  const colon = rest.lastIndexOf(':');
  const name = colon > rest.lastIndexOf('/') ? rest.slice(0, colon) : rest;
  return `${name}:sha256-${ref.slice(at + '@sha256:'.length)}`;
}

/** Two refs name the same pin: equal, or one is the other's digest alias. */
export function samePin(a: string, b: string): boolean {
  return a === b || digestAlias(a) === b || digestAlias(b) === a;
}

/** What a bundle saves for `refs`: the alias instead of each digest reference (it keeps its name). */
export function bundleSaveRefs(refs: readonly string[]): string[] {
  return refs.map((r) => digestAlias(r) ?? r);
}

/** Images whose platform is not the node's (`platforms`: ref -> os/arch from `docker image inspect`). */
export function foreignImages(platforms: ReadonlyMap<string, string | undefined>, want: string): string[] {
  return [...platforms].filter(([, p]) => p !== undefined && p !== want).map(([r, p]) => `${r} (${p})`);
}

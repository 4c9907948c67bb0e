// `npm run up` as a list of small named steps. Each reads the desired state (settings, pins)
// and what exists, and changes only what differs, so a second run changes nothing.
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { allChecks, blockers, type Check } from './checks.js';
import { controlPlaneName, decideCluster, desiredCluster } from './cluster.js';
import { type Docker, type DockerInfo, imageTransfer, platformOf } from '../tools/docker.js';
import { UserError } from '../cli/errors.js';
import { CommandError, lastLine } from '../tools/runner.js';
import { buildSinkImage, pullImages } from './image-actions.js';
import { digestAlias, foreignImages, planImages } from './images.js';
import type { Kind } from '../tools/kind.js';
import type { Kubectl } from '../tools/kubectl.js';
import { overlayKustomization, overlayName, SINK_IMAGE_ANNOTATION } from './overlay.js';
import { containerdName, imagesForProfile, type ImagePins, type ToolPins } from '../config/pins.js';
import { probe } from './probe.js';
import { reachChecks, waitForReach } from './reach.js';
import { waitForFreshStatuses, type PodStatusJson } from './freshness.js';
import { decideRegistry, hostsToml, hostsTomlPath, localRegistryConfigMap, registryRunArgs } from './registry.js';
import { waitForRollouts } from './rollout.js';
import { secretObjects } from '../secrets/generate.js';
import { ensureSecrets } from '../secrets/file.js';
import { profileRunsMailman, type Settings } from '../config/settings.js';
import { Skip, type Step } from './steps.js';
import { kumomtaImage, runValidation, validatePlan, validationFailed } from './validate.js';
import type { Tilt } from '../tools/tilt.js';

export interface UpOptions {
  /** an offline bundle (`npm run bundle`): load it, pull nothing, build nothing */
  images?: string;
  /** for --context: where the sink image is pushed (host[:port][/path]) */
  registry?: string;
  /** only what Tilt needs from us: cluster, registry, namespace and Secrets */
  forTilt: boolean;
  /** per workload rollout wait */
  rolloutTimeoutSeconds: number;
  /** why the policy validation is skipped (--skip-validate, MAILKIND_SKIP_VALIDATE=1), if it is */
  skipValidate?: string;
}

export interface UpTools {
  docker: Docker;
  kind: Kind;
  kubectl: Kubectl;
  tilt?: Tilt;
}

/** What steps learn and later steps (and the summary) use. */
export interface UpState {
  docker?: DockerInfo;
  platform?: string;
  sinkImageId?: string;
  sinkImageRef?: string;
  warnings: Check[];
}

/**
 * The local name of a pinned image: the pin itself, or the alias tag a bundle saved a digest
 * reference under (images.ts digestAlias), or undefined when neither is on the host.
 */
export async function localRef(docker: Docker, pin: string): Promise<string | undefined> {
  if (await docker.imageId(pin)) return pin;
  const alias = digestAlias(pin);
  return alias && (await docker.imageId(alias)) ? alias : undefined;
}

/** Refuses images whose platform is not the node's (a bundle made for another machine, finding 6). */
async function checkPlatforms(docker: Docker, refs: readonly string[], platform: string, fix: string): Promise<void> {
  const platforms = new Map<string, string | undefined>();
  for (const ref of refs) platforms.set(ref, await docker.imagePlatform(ref));
  const foreign = foreignImages(platforms, platform);
  if (foreign.length > 0) throw new UserError(`images for another platform than this ${platform} Docker: ${foreign.join(', ')}`, fix);
}

export interface UpContext {
  settings: Settings;
  options: UpOptions;
  tools: UpTools;
  pins: { images: ImagePins; tools: ToolPins };
  state: UpState;
}

function dockerOrFail(ctx: UpContext): DockerInfo {
  const d = ctx.state.docker;
  if (!d) throw new Error('preflight has not run');
  return d;
}

const preflight: Step<UpContext> = {
  name: 'preflight',
  title: 'Preflight',
  async run(ctx) {
    const { settings, tools } = ctx;
    const facts = await probe(settings, tools);
    ctx.state.docker = facts.docker;
    const checks = allChecks(facts, ctx.pins.tools, settings);
    const blocking = blockers(checks);
    if (blocking.length > 0) {
      const [first, ...rest] = blocking;
      throw new UserError(
        `${first!.title}: ${first!.detail}`,
        first!.fix,
        1,
        rest.map((c) => `also: ${c.title}: ${c.detail}${c.fix ? ` (fix: ${c.fix})` : ''}`),
      );
    }
    ctx.state.warnings = checks.filter((c) => c.level === 'warn');
    ctx.state.platform = platformOf(facts.docker.architecture);
    if (settings.external) {
      if (!(await tools.kubectl.contextExists())) {
        throw new UserError(`kube context "${settings.context}" is not in your kubeconfig`, 'check `kubectl config get-contexts`, or drop --context to use kind');
      }
      const r = await tools.kubectl.reachable();
      if (r.exitCode !== 0) throw new UserError(`the cluster of context "${settings.context}" does not answer: ${lastLine(r.stderr) || 'no reply'}`, 'check the cluster and your credentials (`kubectl --context ... get nodes`)');
    }
    const d = facts.docker;
    return `Docker ${d.serverVersion}, ${(d.memTotalBytes / 1024 ** 3).toFixed(1)} GiB, ${d.cpus} CPUs${ctx.state.warnings.length ? `; ${ctx.state.warnings.length} warning(s)` : ''}`;
  },
};

const offlineBundle: Step<UpContext> = {
  name: 'bundle',
  title: 'Offline image bundle',
  async run(ctx) {
    const file = ctx.options.images;
    if (!file) return new Skip('no --images');
    try {
      await access(file);
    } catch {
      throw new UserError(`--images ${file}: no such file`, 'make one with `npm run bundle` on a machine with network');
    }
    await ctx.tools.docker.load(file);
    const wanted = [ctx.pins.images.node, ...ctx.pins.images.pulled, ctx.pins.images.sink];
    const missing: string[] = [];
    const found: string[] = [];
    for (const ref of wanted) {
      const local = await localRef(ctx.tools.docker, ref);
      if (local) found.push(local);
      else missing.push(ref);
    }
    if (missing.length > 0) {
      throw new UserError(`the bundle ${file} lacks ${missing.join(', ')}`, 'the pins changed since it was made: run `npm run bundle` again');
    }
    const platform = ctx.state.platform ?? 'linux/amd64';
    await checkPlatforms(ctx.tools.docker, found, platform, `make the bundle for this machine: \`npm run bundle -- --platform ${platform}\``);
    return `loaded ${file} (${wanted.length} images)`;
  },
};

async function createCluster(ctx: UpContext, config: string): Promise<void> {
  try {
    await ctx.tools.kind.create(ctx.settings.cluster, config);
  } catch (e) {
    const msg = e instanceof CommandError ? e.result.stderr : String(e);
    if (/address already in use|port is already allocated/i.test(msg)) {
      throw new UserError(`kind could not publish a host port: ${lastLine(msg)}`, 'another program took a port since preflight: `npm run doctor` shows which');
    }
    throw new UserError(`kind create cluster failed: ${lastLine(msg)}`, 'run `npm run up -- --verbose`; kind removed the half-made cluster, so running up again is safe');
  }
}

/**
 * What kind installs after `kubeadm init` (kind v0.32.0 pkg/cluster/internal/create/create.go runs
 * kubeadminit, then installcni: the kindnet DaemonSet, then installstorage: the `standard`
 * StorageClass). A cluster interrupted in between has a kubeconfig but its node never becomes
 * Ready (finding 8).
 */
export const KIND_ADDONS = [
  { ref: 'daemonset/kindnet', namespace: 'kube-system' },
  { ref: 'storageclass/standard', namespace: undefined },
] as const;

async function missingAddons(k: Kubectl): Promise<string[]> {
  const out: string[] = [];
  for (const a of KIND_ADDONS) if (!(await k.exists(a.ref, a.namespace))) out.push(a.ref);
  return out;
}

const cluster: Step<UpContext> = {
  name: 'cluster',
  title: 'Kind cluster',
  async run(ctx, out) {
    const { settings, tools } = ctx;
    // kind create and kind export kubeconfig make kind-<cluster> the current context (finding 10)
    const previousContext = await tools.kubectl.currentContext();
    // offline, a bundled node image exists only under its alias: give kind the name it can find
    const nodeImage = (await localRef(tools.docker, ctx.pins.images.node)) ?? ctx.pins.images.node;
    const desired = desiredCluster(settings.cluster, await readFile(settings.paths.kindConfig, 'utf8'), settings.ports, nodeImage);
    const [listed, node] = await Promise.all([tools.kind.clusters(), tools.docker.container(controlPlaneName(settings.cluster))]);
    const decision = decideCluster({ listed: listed.includes(settings.cluster), node, desired });
    let outcome: string;
    switch (decision.action) {
      case 'refuse':
        throw new UserError(decision.reason, decision.fix);
      case 'create':
        await createCluster(ctx, desired.config);
        outcome = 'created';
        break;
      case 'start':
        await tools.docker.start(controlPlaneName(settings.cluster));
        outcome = 'started (was stopped)';
        break;
      case 'reuse':
        outcome = 'reused';
        break;
    }
    // a cluster whose creation was interrupted has a node but no usable kubeconfig: make it again
    if (!(await tools.kind.exportKubeconfig(settings.cluster))) {
      if (decision.action === 'create') throw new UserError(`kind created "${settings.cluster}" but cannot write its kubeconfig`, 'check ~/.kube/config is writable (or KUBECONFIG)');
      await tools.kind.delete(settings.cluster);
      await createCluster(ctx, desired.config);
      if (!(await tools.kind.exportKubeconfig(settings.cluster))) throw new UserError(`cannot write the kubeconfig of "${settings.cluster}"`, 'check ~/.kube/config is writable (or KUBECONFIG)');
      outcome = 'recreated (the previous one was half-made)';
    } else if (decision.action !== 'create') {
      // the API server of a started (or just restarted) node needs a moment (finding 4)
      const api = await tools.kubectl.waitReachable(120);
      if (api.exitCode !== 0) throw new UserError(`the API server of ${settings.cluster} does not answer: ${lastLine(api.stderr)}`, `check \`docker logs ${controlPlaneName(settings.cluster)}\`; if it is broken, \`npm run down\` and \`npm run up\``);
      const missing = await missingAddons(tools.kubectl);
      if (missing.length > 0) {
        out.note(`${settings.cluster} lacks ${missing.join(', ')}: its creation was interrupted; making it again`);
        await tools.kind.delete(settings.cluster);
        await createCluster(ctx, desired.config);
        if (!(await tools.kind.exportKubeconfig(settings.cluster))) throw new UserError(`cannot write the kubeconfig of "${settings.cluster}"`, 'check ~/.kube/config is writable (or KUBECONFIG)');
        outcome = `recreated (the previous one lacked ${missing.join(', ')})`;
      }
    }
    // mailkind itself always passes --context; give the user back the context they had, except
    // for Tilt, which deploys to the current context and refuses any other than kind-<cluster>
    let contextNote = `context ${settings.context}`;
    if (previousContext && previousContext !== settings.context) {
      if (ctx.options.forTilt) contextNote = `current context switched from ${previousContext} to ${settings.context} (Tilt deploys there)`;
      else {
        await tools.kubectl.useContext(previousContext);
        contextNote = `context ${settings.context}; your current context stays ${previousContext}`;
      }
    }
    return `${settings.cluster} ${outcome} (${contextNote})`;
  },
};

const nodesReady: Step<UpContext> = {
  name: 'nodes',
  title: 'Nodes and CoreDNS ready',
  async run(ctx, out) {
    const k = ctx.tools.kubectl;
    // `kubectl wait` exits at once on a refused connection: wait for the API server first (finding 4)
    const api = await k.waitReachable(180);
    if (api.exitCode !== 0) throw new UserError(`the API server of ${ctx.settings.context} does not answer in 180s: ${lastLine(api.stderr)}`, 'check `docker logs <cluster>-control-plane`; if it is broken, `npm run down` and `npm run up`');
    const nodes = await k.waitNodesReady(180);
    if (nodes.exitCode !== 0) {
      throw new UserError(`nodes of ${ctx.settings.context} not Ready in 180s: ${lastLine(nodes.stderr)}`, 'check `docker logs <cluster>-control-plane`; if it is broken, `npm run down` and `npm run up`');
    }
    const name = controlPlaneName(ctx.settings.cluster);
    const waited = await waitForFreshStatuses(
      { node: name, startedAt: (await ctx.tools.docker.container(name)).startedAt, pods: async () => (await k.getJson<{ items: PodStatusJson[] }>('pods', ['--all-namespaces'])).items },
      { timeoutSeconds: 180, onWait: (n) => out.note(`the node restarted: waiting for the kubelet to report on ${n} pod(s)`) },
    );
    const dns = await k.rolloutStatus('deployment/coredns', 180, 'kube-system');
    if (dns.exitCode !== 0) throw new UserError(`CoreDNS not ready in 180s: ${lastLine(dns.stderr)}`, '`kubectl -n kube-system describe pods -l k8s-app=kube-dns`');
    return waited > 0 ? `ready (pod statuses from before the node restarted: ${waited}s until the kubelet reported)` : 'ready';
  },
};

const registry: Step<UpContext> = {
  name: 'registry',
  title: 'Local registry',
  async run(ctx) {
    const { docker, kubectl } = ctx.tools;
    const spec = { ...ctx.settings.registry, image: ctx.pins.tools.registry.image };
    const c = await docker.container(spec.name);
    const action = decideRegistry(c);
    if (action === 'run') await docker.runDetached(registryRunArgs(spec));
    if (action === 'start') await docker.start(spec.name);
    const after = action === 'keep' ? c : await docker.container(spec.name);
    if (!after.networks.includes('kind')) await docker.networkConnect('kind', spec.name);
    const node = controlPlaneName(ctx.settings.cluster);
    const path = hostsTomlPath(spec.port);
    const want = hostsToml(spec);
    const have = await docker.exec(node, ['sh', '-c', `cat '${path}' 2>/dev/null || true`]);
    if (have !== want.trimEnd() && have !== want) {
      await docker.exec(node, ['sh', '-c', `mkdir -p '${path.slice(0, path.lastIndexOf('/'))}' && cat > '${path}'`], want);
    }
    await kubectl.applyManifest(localRegistryConfigMap(spec), false);
    return `${spec.name} on localhost:${spec.port} (${action === 'run' ? 'started' : action === 'start' ? 'restarted' : 'running'})`;
  },
};

/** Saves refs to one archive and loads it into the kind node. */
async function loadIntoKind(ctx: UpContext, refs: readonly string[]): Promise<void> {
  if (refs.length === 0) return;
  // under .mailkind, not the system tmp: archives run to gigabytes and /tmp is often RAM (tmpfs)
  const parent = join(ctx.settings.paths.state, 'tmp');
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(join(parent, 'images-'));
  try {
    const archive = join(dir, 'images.tar');
    const transfer = imageTransfer(dockerOrFail(ctx));
    if (!transfer.ok) throw new UserError(transfer.reason, transfer.fix);
    const platform = ctx.state.platform ?? 'linux/amd64';
    await checkPlatforms(ctx.tools.docker, refs, platform, `pull them for this machine: \`docker pull --platform ${platform} <image>\`, or make the bundle with --platform ${platform}`);
    await ctx.tools.docker.save(refs, archive, transfer.savePlatform ? platform : undefined);
    await ctx.tools.kind.loadImageArchive(ctx.settings.cluster, archive);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function nodeImages(ctx: UpContext): Promise<Set<string>> {
  const out = await ctx.tools.docker.exec(controlPlaneName(ctx.settings.cluster), ['ctr', '--namespace', 'k8s.io', 'images', 'list', '--quiet']);
  return new Set(out.split('\n').map((l) => l.trim()).filter(Boolean));
}

const images: Step<UpContext> = {
  name: 'images',
  title: 'Pinned images into the node',
  async run(ctx, out) {
    // archives an interrupted `up` left behind
    await rm(join(ctx.settings.paths.state, 'tmp'), { recursive: true, force: true });
    const wanted = imagesForProfile(ctx.pins.images.pulled, profileRunsMailman(ctx.settings.profile), ctx.pins.images.names);
    const onNode = await nodeImages(ctx);
    const onHost = new Set<string>();
    const local = new Map<string, string>();
    for (const ref of wanted) {
      if (onNode.has(containerdName(ref))) continue;
      const l = await localRef(ctx.tools.docker, ref);
      if (l) {
        onHost.add(ref);
        local.set(ref, l);
      }
    }
    const plan = planImages(wanted, onNode, onHost, !ctx.options.images);
    if (plan.unavailable.length > 0) throw new UserError(`not in the bundle nor on the node: ${plan.unavailable.join(', ')}`, 'run `npm run bundle` again');
    if (plan.pull.length > 0) {
      out.note(`pulling ${plan.pull.length} image(s) for ${ctx.state.platform}`);
      await pullImages(ctx.tools.docker, plan.pull, ctx.state.platform ?? 'linux/amd64');
    }
    if (plan.load.length > 0) {
      out.note(`loading ${plan.load.length} image(s) into ${ctx.settings.cluster}`);
      await loadIntoKind(ctx, plan.load.map((r) => local.get(r) ?? r));
    }
    return plan.load.length === 0 ? `all ${wanted.length} present` : `${plan.pull.length} pulled, ${plan.load.length} loaded, ${plan.present.length} present`;
  },
};

async function liveSinkImageId(ctx: UpContext): Promise<string | undefined> {
  try {
    const d = await ctx.tools.kubectl.getJson<{ spec?: { template?: { metadata?: { annotations?: Record<string, string> } } } }>('deployment/smtp-sink');
    return d.spec?.template?.metadata?.annotations?.[SINK_IMAGE_ANNOTATION];
  } catch {
    return undefined;
  }
}

const sinkImage: Step<UpContext> = {
  name: 'sink-image',
  title: 'Sink image',
  async run(ctx, out) {
    const { docker } = ctx.tools;
    const ref = ctx.pins.images.sink;
    const root = ctx.settings.paths.root;
    if (!ctx.options.images) {
      out.note(`docker build ${ref}`);
      await buildSinkImage(docker, root, ref);
    }
    // what the image is (layers and config), not docker's ID: that changes on every build with the
    // containerd store (finding 3), which would reload the sink and restart its pod each time
    const id = await docker.imageIdentity(ref);
    if (!id) throw new UserError(`${ref} is not on the host after the build`, 'run `docker build -f sinks/smtp-sink/Dockerfile -t mailkind/smtp-sink:dev .`');
    ctx.state.sinkImageId = id;
    if (ctx.settings.external) {
      const target = `${ctx.options.registry!.replace(/\/$/, '')}/smtp-sink:${id.replace(/^sha256:/, '').slice(0, 16)}`;
      await docker.tag(ref, target);
      await docker.push(target);
      ctx.state.sinkImageRef = target;
      return `built and pushed ${target}`;
    }
    const onNode = (await nodeImages(ctx)).has(containerdName(ref));
    if (onNode && (await liveSinkImageId(ctx)) === id) return `unchanged (${id.slice(7, 19)})`;
    await loadIntoKind(ctx, [ref]);
    return `loaded ${id.slice(7, 19)}`;
  },
};

const secrets: Step<UpContext> = {
  name: 'secrets',
  title: 'Namespace and Secrets',
  async run(ctx) {
    const { settings } = ctx;
    const ensured = await ensureSecrets(settings.paths.secrets);
    // the Namespace object itself comes with the manifests (with its pod-security labels);
    // applying a second, different copy here would make each apply undo the other
    const created = !(await ctx.tools.kubectl.namespaceExists());
    if (created) await ctx.tools.kubectl.createNamespace();
    const docs = secretObjects(ensured.secrets, settings.namespace).map((o) => stringify(o)).join('---\n');
    const lines = await ctx.tools.kubectl.applyManifest(docs, false);
    const changed = lines.filter((l) => !/unchanged$/.test(l)).length;
    return `file ${ensured.outcome}${ensured.added.length ? ` (+${ensured.added.join(', ')})` : ''}; ${created ? 'namespace created, ' : ''}${changed === 0 ? 'unchanged in cluster' : `${changed} Secret(s) applied`}`;
  },
};

/** Objects of the full stack that a smaller profile does not have: left over from an earlier `up`. */
export function leftoverRefs(fullYaml: string, profileYaml: string): string[] {
  const refs = (text: string) =>
    new Set(
      parseAllDocuments(text)
        .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } } | null)
        .filter((o): o is { kind: string; metadata: { name: string } } => Boolean(o?.kind && o.metadata?.name) && o!.kind !== 'Namespace')
        .map((o) => `${o.kind.toLowerCase()}/${o.metadata.name}`),
    );
  const profile = refs(profileYaml);
  return [...refs(fullYaml)].filter((r) => !profile.has(r));
}

const manifests: Step<UpContext> = {
  name: 'manifests',
  title: 'Apply manifests',
  async run(ctx) {
    const { settings, state } = ctx;
    const overlayDir = join(settings.paths.state, 'overlays', overlayName(settings.external ? settings.context : settings.cluster));
    await mkdir(overlayDir, { recursive: true });
    const ref = state.sinkImageRef;
    const text = overlayKustomization({
      overlayDir,
      manifestsDir: settings.paths.manifests,
      namespace: settings.namespace === 'mailkind' ? undefined : settings.namespace,
      sinkImage: ref ? { newName: ref.slice(0, ref.lastIndexOf(':')), newTag: ref.slice(ref.lastIndexOf(':') + 1) } : undefined,
      sinkImageId: state.sinkImageId,
      images: ctx.pins.images.rewrites,
    });
    await writeFile(join(overlayDir, 'kustomization.yaml'), text);
    const lines = await ctx.tools.kubectl.applyKustomization(overlayDir);
    const changed = lines.filter((l) => !/unchanged$/.test(l));
    let removed = 0;
    if (settings.profile !== 'full') {
      const [full, mine] = await Promise.all([ctx.tools.kubectl.kustomize(join(settings.paths.root, 'manifests')), ctx.tools.kubectl.kustomize(settings.paths.manifests)]);
      const gone = await ctx.tools.kubectl.deleteObjects(leftoverRefs(full, mine));
      removed = gone.length;
    }
    return `${lines.length} objects, ${changed.length} changed${removed ? `, ${removed} removed (profile ${settings.profile})` : ''}`;
  },
};

// The pinned KumoMTA image judges the policy before anything is applied, so a policy error stops
// `up` with kumod's own message instead of a CrashLoopBackOff minutes later (validate.ts).
const validatePolicy: Step<UpContext> = {
  name: 'validate',
  title: 'Validate the KumoMTA policy',
  async run(ctx) {
    const { settings } = ctx;
    if (ctx.options.skipValidate) {
      ctx.state.warnings.push({
        id: 'validate',
        title: 'KumoMTA policy',
        level: 'warn',
        detail: `not validated (${ctx.options.skipValidate}): a policy kumod refuses shows up as a CrashLoopBackOff of the kumomta pods`,
        fix: 'npm run validate',
      });
      return new Skip(`${ctx.options.skipValidate}: the policy is NOT checked by kumod before it is applied`);
    }
    const plan = validatePlan({ root: settings.paths.root, policyDir: join(settings.paths.root, 'manifests/base/policy/kumomta'), image: kumomtaImage(ctx.pins.images.pulled), namespace: settings.namespace });
    const outcomes = await runValidation(ctx.tools.docker, plan);
    const failure = validationFailed(outcomes);
    if (failure) throw failure;
    return `${outcomes.map((o) => o.name).join(', ')}: ok`;
  },
};

const rollout: Step<UpContext> = {
  name: 'rollout',
  title: 'Wait for the stack',
  async run(ctx, out) {
    const done = await waitForRollouts(ctx.tools.kubectl, ctx.settings.profile, ctx.options.rolloutTimeoutSeconds, (w) => out.note(`${w} ready`));
    return `${done.length} workloads ready`;
  },
};

// kind only: with --context nothing of the stack listens on this machine (summary.ts externalAccess)
const reach: Step<UpContext> = {
  name: 'reach',
  title: 'URLs answer on this machine',
  async run(ctx) {
    const { settings } = ctx;
    // kind publishes the ports on 127.0.0.1 (manifests/kind/cluster.yaml), whatever MAILKIND_HOST
    // says for e2e runs against another host
    const checks = reachChecks({ ...settings, host: '127.0.0.1' });
    const r = await waitForReach(checks, { timeoutSeconds: ctx.options.rolloutTimeoutSeconds });
    if (r.silent.length > 0) {
      const node = controlPlaneName(settings.cluster);
      throw new UserError(
        `the stack is ready in the cluster, but ${r.silent.map((s) => s.check.url).join(', ')} did not answer in ${ctx.options.rolloutTimeoutSeconds}s`,
        `the host ports reach the pods through ${node}'s port mappings and kube-proxy: check \`kubectl --context ${settings.context} --namespace kube-system logs daemonset/kube-proxy\` and \`docker port ${node}\`; \`npm run doctor\` shows whether another program holds a port`,
        1,
        r.silent.map((s) => `${s.check.what}: ${s.last}`),
      );
    }
    const slowest = Math.max(...r.answered.map((a) => a.ms));
    return `${r.answered.length} answered${slowest >= 1000 ? ` (the last after ${(slowest / 1000).toFixed(1)}s)` : ''}`;
  },
};

export function upSteps(opts: Pick<UpOptions, 'forTilt'>, settings: Pick<Settings, 'external'>): Step<UpContext>[] {
  if (settings.external) return opts.forTilt ? [preflight, secrets] : [preflight, validatePolicy, sinkImage, secrets, manifests, rollout];
  // Tilt validates on its own, on every policy save (Tiltfile, kumomta-policy)
  if (opts.forTilt) return [preflight, cluster, nodesReady, registry, secrets];
  // after `images`: the pinned kumomta image is on the host by then (pulled or from the bundle)
  return [preflight, offlineBundle, cluster, nodesReady, registry, images, validatePolicy, sinkImage, secrets, manifests, rollout, reach];
}

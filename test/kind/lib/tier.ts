// The kind tier's fixture, made once per run: the node image and the workload images (built and
// cached by the provisioning scripts), a Docker engine of its own with them loaded, and the
// environment under which the lifecycle commands run for real (docker, kind, kubectl on PATH;
// the pins pointed at the local images through MAILKIND_PINS_OVERRIDE; free host ports; a
// kubeconfig and state folder of its own). teardown() deletes the cluster and everything else.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { freePorts } from '../../../bench/lib/net.js';
import type { Miss } from '../../helpers/prerequisites.js';
import { type LocalRegistry, startRegistry } from '../../helpers/docker-engine.js';
import { startEngine, type Engine } from './engine.js';
import { uploadArchive } from './upload.js';

export const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const PROVISION = 'bash scripts/provision/docker-engine.sh';

interface Versions {
  kubernetes: { version: string };
  etcd: { version: string };
  dockerEngine: { distribution: string };
}

function cacheDir(): string {
  return process.env.MAILKIND_CACHE || join(homedir(), '.cache', 'mailkind');
}

function versions(): Versions {
  return JSON.parse(readFileSync(join(ROOT, 'versions.json'), 'utf8')) as Versions;
}

export function engineBin(): string {
  return join(cacheDir(), 'docker-engine', 'bin');
}

/** tilt as scripts/provision/tilt.sh links it (built with a placeholder web UI, so `tilt up` runs) */
export const TILT = join(ROOT, '.cache/bin/tilt');

export function kubernetesBin(): string {
  return join(cacheDir(), `kubernetes-${versions().kubernetes.version}`, 'bin');
}

/** For skipWithout(): what the tier needs that this machine lacks. */
export function kindTierMissing(): Miss | undefined {
  const what = 'test/kind (a real kind cluster)';
  const need: [string, string][] = [
    [join(cacheDir(), 'docker-engine', '.complete'), PROVISION],
    [join(cacheDir(), `kubernetes-${versions().kubernetes.version}`, '.complete'), 'bash scripts/provision/kubernetes.sh'],
    [join(cacheDir(), `etcd-${versions().etcd.version}`, 'bin', 'etcd'), 'bash scripts/provision/kubernetes.sh'],
    ['/usr/sbin/debootstrap', 'apt-get install -y debootstrap'],
    ['/bin/busybox', 'apt-get install -y busybox-static'],
    ['/usr/bin/gcc', 'apt-get install -y gcc libc6-dev'],
    [TILT, 'bash scripts/provision/tilt.sh'],
  ];
  const missing = need.filter(([p]) => !existsSync(p));
  if (missing.length === 0) return undefined;
  return { what, reason: `missing ${missing.map(([p]) => p).join(', ')}`, fix: [...new Set(missing.map(([, f]) => f))].join(' && ') };
}

export interface CommandResult {
  exitCode: number;
  all: string;
  ms: number;
}

/** Ctrl-C (SIGINT) once a line of output matches `afterLine` and then `when` holds. */
export interface Interrupt {
  afterLine: RegExp;
  when?: () => Promise<boolean>;
}

export interface KindTier {
  /** the engine the commands talk to now (freshEngine() replaces it) */
  engine: Engine;
  cluster: string;
  context: string;
  /** the kind node image pin, by digest (as manifests/kind/cluster.yaml pins it) */
  nodeImage: string;
  /** a folder of this run's own (removed by teardown) */
  dir: string;
  ports: { sinkHttp: number; registry: number };
  /** the environment every command of the tier runs with */
  env: Record<string, string>;
  /** `npm run <script>` equivalent: tsx scripts/<script>.ts with the tier's environment */
  lifecycle(script: 'up' | 'down' | 'status' | 'bundle' | 'doctor', args?: string[], opts?: { interrupt?: Interrupt }): Promise<CommandResult>;
  /** any program with the tier's environment */
  run(cmd: string, args: string[], input?: string): Promise<CommandResult & { stdout: string }>;
  kubectl(args: string[], input?: string): Promise<string>;
  /** the locally made stand-in image for each kustomization image name (minimal profile's and Postgres') */
  standins: Record<string, string>;
  /** `tilt <args>` (scripts/provision/tilt.sh's build) with the tier's environment, to its end */
  tilt(args: string[]): Promise<CommandResult>;
  /** `tilt <args>` left running (`tilt up`): its output so far, and a stop that waits for its exit */
  startTilt(args: string[]): { output(): string; stop(): Promise<void> };
  /** stops the registry on 127.0.0.1 the pins come from (the network is off from then on) */
  stopUpstream(): Promise<void>;
  /** removes the engine and everything it holds, and starts a new one on a new, empty data root */
  freshEngine(): Promise<void>;
  /** figures for the report: provisioning and loading times, ms */
  timings: Record<string, number>;
  teardown(): Promise<void>;
}

async function timed<T>(timings: Record<string, number>, name: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    timings[name] = Math.round(performance.now() - t0);
  }
}

function keyValues(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .split('\n')
      .map((l) => /^(\w+)=(.*)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
}

/**
 * Folders of earlier runs that never reached teardown (their test process was killed; startEngine
 * has stopped their daemon by now): the registry process serving from one, then the folder.
 */
function sweepStaleRuns(current: string): void {
  const stale = readdirSync(cacheDir())
    .filter((n) => n.startsWith('kind-tier-'))
    .map((n) => join(cacheDir(), n))
    .filter((d) => d !== current);
  if (stale.length === 0) return;
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)) {
    try {
      const cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (stale.some((d) => cmdline.includes(d))) process.kill(Number(p), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  for (const d of stale) rmSync(d, { recursive: true, force: true });
}

export async function setupKindTier(): Promise<KindTier> {
  const timings: Record<string, number> = {};
  const provision = async (script: string) => {
    const r = await execa('bash', [join(ROOT, 'scripts/provision', script)], { cwd: ROOT, reject: false, all: true });
    if (r.exitCode !== 0) throw new Error(`${script} failed:\n${r.all}`);
    return keyValues(r.stdout);
  };
  const node = await timed(timings, 'nodeImageProvision', () => provision('kind-node-image.sh'));
  const workloads = await timed(timings, 'workloadImagesProvision', () => provision('kind-workload-images.sh'));

  const tmp = mkdtempSync(join(cacheDir(), 'kind-tier-'));
  const engineOptions = (dataRoot: string) => ({ name: 'kindt', binDir: engineBin(), dataRoot, bridgeCidr: '10.213.0.1/24', pool: '10.214.0.0/16' });
  let engine = await timed(timings, 'engineStart', () => startEngine(engineOptions(join(tmp, 'docker'))));
  let upstream: LocalRegistry | undefined;
  sweepStaleRuns(tmp);
  try {
    const base = { ...process.env, ...engine.env } as Record<string, string>;
    await timed(timings, 'imageLoad', async () => {
      // not the node image: kind pulls it by its digest pin from the upstream registry below,
      // as it pulls kindest/node for a user
      const archives = readdirSync(workloads.dir!).filter((f) => f.endsWith('.tar')).map((f) => join(workloads.dir!, f));
      for (const a of archives) await execa('docker', ['load', '--quiet', '--input', a], { env: base });
    });
    // The sink's Dockerfile builds FROM its NODE_IMAGE default (an image only a registry has):
    // the locally made Node base takes that name in this engine only.
    const dockerfile = readFileSync(join(ROOT, 'sinks/smtp-sink/Dockerfile'), 'utf8');
    const nodeImage = /^ARG NODE_IMAGE=(\S+)/m.exec(dockerfile)![1]!;
    const nodeVersion = /^node:([\d.]+)/.exec(nodeImage)![1]!;
    await execa('docker', ['tag', `mailkind.local/sink-base:node-${nodeVersion}`, nodeImage], { env: base });

    const [sinkHttp, kumoHttp, kumoInbound, kumoRelay, mailmanRest, mailmanWeb, registry] = (await freePorts(7)) as [number, number, number, number, number, number, number];

    // The pins come from a registry, as the real ones do: the distribution registry on 127.0.0.1
    // (the "upstream" `bundle` pulls from; stopped before the offline test). The node image is
    // pinned by digest like manifests/kind/cluster.yaml's, the workloads by tag like the
    // kustomization's. Mailman is not run (minimal profile): `bundle` saves every pin, so its two
    // names carry the Postgres stand-in, never started.
    upstream = await startRegistry(tmp);
    const reg = upstream.host;
    const push = async (local: string, target: string): Promise<void> => {
      await execa('docker', ['tag', local, target], { env: base });
      await execa('docker', ['push', target], { env: base });
    };
    const standins: Record<string, string> = {
      'ghcr.io/kumocorp/kumomta': 'mailkind.local/standin-kumomta:1',
      'docker.dragonflydb.io/dragonflydb/dragonfly': 'mailkind.local/standin-dragonfly:1',
      postgres: 'mailkind.local/standin-postgres:1',
      'maxking/mailman-core': 'mailkind.local/standin-postgres:1',
      'maxking/mailman-web': 'mailkind.local/standin-postgres:1',
    };
    const images: Record<string, string> = {};
    let nodePin = '';
    let registryImage = '';
    await timed(timings, 'upstreamPush', async () => {
      for (const [name, local] of Object.entries(standins)) {
        const target = `${reg}/standin/${name.split('/').at(-1)}:1`;
        await push(local, target);
        images[name] = target;
      }
      registryImage = `${reg}/standin/registry:${versions().dockerEngine.distribution}`;
      await push(`mailkind.local/registry:${versions().dockerEngine.distribution}`, registryImage);
    });
    // the node image's layer goes up uncompressed, through the registry API (upload.ts): a
    // `docker push` would gzip 1.1 GB first
    await timed(timings, 'nodeImageUpload', async () => {
      const tag = node.image!.split(':').at(-1)!;
      nodePin = `${reg}/mailkind/kind-node:${tag}@${await uploadArchive(node.archive!, reg, 'mailkind/kind-node', tag)}`;
    });
    const pins = join(tmp, 'pins-override.json');
    writeFileSync(
      pins,
      JSON.stringify({
        $comment: 'the kind tier: locally made images instead of the registry-only ones (test/kind/lib/tier.ts)',
        images,
        kindNodeImage: nodePin,
        registryImage,
      }),
    );
    // a CLI configuration of its own (no credentials, no plugins of the machine's) with the
    // engine build's buildx plugin: `docker build` then uses BuildKit (the Dockerfile's
    // `FROM --platform=${BUILDPLATFORM}` needs it; the legacy builder cannot parse that line)
    const dockerConfig = join(tmp, 'docker-config');
    mkdirSync(join(dockerConfig, 'cli-plugins'), { recursive: true });
    symlinkSync(join(engineBin(), 'docker-buildx'), join(dockerConfig, 'cli-plugins', 'docker-buildx'));
    const cluster = 'mailkind-kindt';
    const env: Record<string, string> = {
      ...base,
      PATH: [engineBin(), kubernetesBin(), join(ROOT, 'node_modules/.bin'), process.env.PATH ?? ''].join(':'),
      DOCKER_CONFIG: dockerConfig,
      KUBECONFIG: join(tmp, 'kubeconfig'),
      MAILKIND_STATE_DIR: join(tmp, 'state'),
      MAILKIND_CLUSTER: cluster,
      MAILKIND_PINS_OVERRIDE: pins,
      MAILKIND_PORT_SINK_HTTP: String(sinkHttp),
      MAILKIND_PORT_KUMO_HTTP: String(kumoHttp),
      MAILKIND_PORT_KUMO_INBOUND: String(kumoInbound),
      MAILKIND_PORT_KUMO_RELAY: String(kumoRelay),
      MAILKIND_PORT_MAILMAN_REST: String(mailmanRest),
      MAILKIND_PORT_MAILMAN_WEB: String(mailmanWeb),
      MAILKIND_REGISTRY_PORT: String(registry),
      // the stand-in KumoMTA image has no kumod to validate the policy with (docs/testing-kind.md)
      MAILKIND_SKIP_VALIDATE: '1',
      // tilt's own state (session tokens, config) in the run's folder, not ~/.tilt-dev
      TILT_DEV_DIR: join(tmp, 'tilt-dev'),
      CI: 'true',
    };
    delete env.MAILKIND_PROFILE;
    delete env.DOCKER_BUILDKIT;

    const run = async (cmd: string, args: string[], input?: string) => {
      const t0 = performance.now();
      const r = await execa(cmd, args, { cwd: ROOT, env, extendEnv: false, reject: false, all: true, input });
      return { exitCode: r.exitCode ?? -1, all: r.all ?? '', stdout: r.stdout, ms: Math.round(performance.now() - t0) };
    };
    const tier: KindTier = {
      engine,
      cluster,
      context: `kind-${cluster}`,
      nodeImage: nodePin,
      dir: tmp,
      ports: { sinkHttp, registry },
      env,
      timings,
      run,
      async kubectl(args, input) {
        const r = await run('kubectl', ['--context', `kind-${cluster}`, ...args], input);
        if (r.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.all}`);
        return r.stdout;
      },
      async lifecycle(script, args = [], opts = {}) {
        const t0 = performance.now();
        const child = execa(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, `scripts/${script}.ts`), ...args], { cwd: ROOT, env, extendEnv: false, reject: false, all: true });
        const interrupt = opts.interrupt;
        if (interrupt) {
          let armed = false;
          child.all?.on('data', (chunk: Buffer) => {
            if (armed || !chunk.toString().split('\n').some((l) => interrupt.afterLine.test(l))) return;
            armed = true;
            void (async () => {
              while (child.exitCode === null && interrupt.when && !(await interrupt.when())) await new Promise((r) => setTimeout(r, 250));
              child.kill('SIGINT');
            })();
          });
        }
        const r = await child;
        return { exitCode: r.exitCode ?? (r.signal ? 130 : -1), all: r.all ?? '', ms: Math.round(performance.now() - t0) };
      },
      standins,
      async tilt(args) {
        return run(TILT, args);
      },
      startTilt(args) {
        const child = execa(TILT, args, { cwd: ROOT, env, extendEnv: false, reject: false, all: true });
        let out = '';
        child.all?.on('data', (c: Buffer) => (out += c.toString()));
        return {
          output: () => out,
          async stop() {
            child.kill('SIGTERM');
            await child;
          },
        };
      },
      async stopUpstream() {
        await upstream?.stop();
      },
      async freshEngine() {
        await engine.stop();
        // the same socket, bridge and pool (so the environment stays), on a data root never used
        engine = await startEngine(engineOptions(mkdtempSync(join(tmp, 'docker-'))));
        tier.engine = engine;
      },
      async teardown() {
        await run('kind', ['delete', 'cluster', '--name', cluster]);
        await upstream?.stop();
        await engine.stop();
        rmSync(tmp, { recursive: true, force: true });
      },
    };
    return tier;
  } catch (e) {
    await upstream?.stop();
    await engine.stop();
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

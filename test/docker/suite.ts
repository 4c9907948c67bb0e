// The docker tier: the lifecycle's Docker side against a real dockerd (test/helpers/docker-engine.ts),
// once per image store (classic.test.ts, containerd.test.ts share this suite). Nothing is pulled
// from the internet: stand-in images are imported from a busybox rootfs and pushed to a local
// registry on 127.0.0.1, and MAILKIND_PINS_OVERRIDE points the pins at them (docs/testing-docker.md).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../bench/lib/net.js';
import { Docker, imageTransfer } from '../../scripts/lib/tools/docker.js';
import { execaRunner, lastLine } from '../../scripts/lib/tools/runner.js';
import { engineCheck } from '../../scripts/lib/lifecycle/checks.js';
import { buildSinkImage } from '../../scripts/lib/lifecycle/image-actions.js';
import { digestAlias, foreignImages } from '../../scripts/lib/lifecycle/images.js';
import { localRef } from '../../scripts/lib/lifecycle/up-steps.js';
import { decideRegistry, registryRunArgs } from '../../scripts/lib/lifecycle/registry.js';
import { desiredCluster } from '../../scripts/lib/lifecycle/cluster.js';
import { readImagePins } from '../../scripts/lib/config/pins.js';
import { PORT_KEYS, PORTS, resolveSettings } from '../../scripts/lib/config/settings.js';
import { ENGINE_BIN, engineMissing, type Engine, type ImageStore, importStandIn, leftovers, type LocalRegistry, startEngine, startRegistry } from '../helpers/docker-engine.js';
import { ROOT } from '../helpers/fake-tools.js';
import { skipWithout } from '../helpers/prerequisites.js';
import { tsEntry } from '../helpers/entry-point.js';

const versions = JSON.parse(readFileSync(join(ROOT, 'versions.json'), 'utf8')) as { dockerEngine: { dockerdVersion: string } };

interface Entry {
  exitCode: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** `npm run <name>` (tsx scripts/<name>.ts) against the engine in `env`. */
async function runEntry(name: string, args: string[], env: Record<string, string>): Promise<Entry> {
  const started = performance.now();
  const r = await execa(...tsEntry(join(ROOT, 'scripts', `${name}.ts`), args), { env, extendEnv: false, reject: false, cwd: ROOT, timeout: 300_000 });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), seconds: (performance.now() - started) / 1000 };
}

/** The sink Dockerfile's base, as a stand-in: npm and node are scripts (nothing is installed or bundled). */
const NODE_STANDIN_FILES = {
  '/usr/local/bin/npm': '#!/bin/sh\n# stand-in npm: `npm run build` writes the bundle the runtime stage copies\ncase "$*" in *"run build"*) mkdir -p sinks/smtp-sink/dist && echo "// stand-in" > sinks/smtp-sink/dist/sink.mjs ;; esac\n',
  '/usr/local/bin/node': '#!/bin/sh\nexit 0\n',
};

function sinkBase(): string {
  return /^ARG NODE_IMAGE=(\S+)$/m.exec(readFileSync(join(ROOT, 'sinks/smtp-sink/Dockerfile'), 'utf8'))![1]!;
}

export function dockerTier(store: ImageStore): void {
  const missing = engineMissing(`test/docker (${store} image store)`);
  describe.skipIf(skipWithout(missing))(`the lifecycle's Docker side on a real dockerd, ${store} image store`, () => {
    let a: Engine | undefined;
    let b: Engine | undefined;
    let registry: LocalRegistry | undefined;
    let overrideFile = '';
    let nodePin = '';
    let registryImage = '';
    const timings: string[] = [];
    const time = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      try {
        return await f();
      } finally {
        timings.push(`${what} ${((performance.now() - t) / 1000).toFixed(1)} s`);
      }
    };
    const env = (e: Engine, extra: Record<string, string> = {}): Record<string, string> => ({
      ...e.env,
      HOME: e.dir,
      KUBECONFIG: join(e.dir, 'kubeconfig'),
      CI: 'true',
      MAILKIND_PINS_OVERRIDE: overrideFile,
      MAILKIND_STATE_DIR: join(e.dir, 'state'),
      ...extra,
    });
    const dockerOf = (e: Engine) => new Docker((cmd, args, o = {}) => execaRunner()(cmd, args, { ...o, env: { ...e.env, ...o.env } }));

    async function push(e: Engine, ref: string): Promise<string> {
      const r = await e.docker(['push', ref]);
      const digest = /digest: (sha256:[0-9a-f]{64})/.exec(r.stdout)?.[1];
      if (!digest) throw new Error(`no digest in the push output of ${ref}: ${r.stdout}`);
      return digest;
    }

    beforeAll(async () => {
      a = await time('engine A start', () => startEngine({ store }));
      registry = await startRegistry(a.dir);
      const reg = registry.host;
      await time('stand-ins', async () => {
        await importStandIn(a!, 'mailkind-standin/base:1');
        // kind's node stand-in: prints the line kind waits for (kind v0.32.0
        // pkg/cluster/internal/providers/common/cgroups.go), holds /kind/version, and has no kubeadm
        await importStandIn(a!, `${reg}/kindest/node:v1.36.1`, {
          files: { '/kind/version': 'v1.36.1\n' },
          changes: ['ENTRYPOINT ["/bin/sh", "-c", "echo Reached target Multi-User System.; exec sleep 100000"]'],
        });
        nodePin = `${reg}/kindest/node:v1.36.1@${await push(a!, `${reg}/kindest/node:v1.36.1`)}`;
        // the registry image: the distribution registry we built, as /registry.yml's `registry serve`
        await importStandIn(a!, `${reg}/standin/registry:3-standin`, {
          files: {
            '/bin/registry': readFileSync(join(ENGINE_BIN, 'registry')),
            '/etc/distribution/config.yml': 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\nhttp:\n  addr: :5000\n',
          },
          changes: ['ENTRYPOINT ["/bin/registry", "serve", "/etc/distribution/config.yml"]', 'EXPOSE 5000'],
        });
        registryImage = `${reg}/standin/registry:3-standin`;
        await push(a!, registryImage);
        // each workload image: the base under the pin's tag, pushed
        const pins = readImagePins(ROOT);
        const images: Record<string, string> = {};
        for (const ref of pins.pulled) {
          const name = pins.names[ref]!;
          const tag = ref.slice(ref.lastIndexOf(':') + 1);
          const target = `${reg}/standin/${name.split('/').at(-1)}:${tag}`;
          await a!.docker(['tag', 'mailkind-standin/base:1', target]);
          await push(a!, target);
          images[name] = target;
        }
        await importStandIn(a!, sinkBase(), { files: NODE_STANDIN_FILES });
        // pulls must come from the registry: only the sink base stays local
        for (const r of [nodePin.split('@')[0]!, registryImage, ...Object.values(images)]) await a!.docker(['rmi', r]);
        overrideFile = join(a!.dir, 'pins-override.json');
        writeFileSync(overrideFile, JSON.stringify({ images, kindNodeImage: nodePin, registryImage }, null, 2));
      });
    }, 600_000);

    afterAll(async () => {
      await registry?.stop();
      for (const e of [b, a]) {
        if (!e) continue;
        await e.stop();
        expect(leftovers(e)).toEqual([]);
      }
      console.log(`docker tier (${store}): ${timings.join(', ')}`);
    }, 180_000);

    it('preflight reads the engine, the CLI and the store from `docker info`', async () => {
      const info = await dockerOf(a!).info();
      expect(info).toMatchObject({ reachable: true, serverVersion: versions.dockerEngine.dockerdVersion, imageStore: store, storageDriver: store === 'containerd' ? 'overlayfs' : 'overlay2', osType: 'linux' });
      const client = (await a!.docker(['version', '--format', '{{.Client.Version}}'])).stdout.trim();
      expect(info.clientVersion).toBe(client);
      expect(info.memTotalBytes).toBeGreaterThan(1024 ** 3);
      expect(info.cpus).toBeGreaterThan(0);
      expect(engineCheck(info).level).toBe('ok');
      expect(imageTransfer(info)).toEqual({ ok: true, savePlatform: true });
    });

    it('bundle on one daemon, then up --images on a fresh one with no registry: every name survives, the node image too (finding 1)', async () => {
      const archive = join(a!.dir, 'bundle.tar');
      const bundle = await time('bundle', () => runEntry('bundle', ['--output', archive], env(a!)));
      expect(bundle.exitCode, bundle.stderr).toBe(0);
      // the network is off from here: the registry the pins came from is gone
      await registry!.stop();
      b = await time('engine B start', () => startEngine({ store }));
      const [free, ...ports] = await freePorts(PORT_KEYS.length + 1);
      const portEnv = Object.fromEntries(PORT_KEYS.map((k, i) => [PORTS[k].env, String(ports[i])]));
      const up = await time('up --images', () => runEntry('up', ['--images', archive, '--profile', 'full'], env(b!, { ...portEnv, MAILKIND_REGISTRY_PORT: String(free) })));
      const pins = JSON.parse(readFileSync(overrideFile, 'utf8')) as { images: Record<string, string> };
      const docker = dockerOf(b);
      for (const ref of [nodePin, registryImage, ...Object.values(pins.images), 'mailkind/smtp-sink:dev']) expect(await localRef(docker, ref), ref).toBeDefined();
      // the classic store finds the node image only under its alias tag (the digest name was dropped
      // on save); the containerd store also answers the digest reference itself, since it matches
      // any name of that repository whose target is the digest: either way it is there, no pull
      const alias = digestAlias(nodePin) ?? 'no alias for a digest pin';
      expect(await localRef(docker, nodePin)).toBe(store === 'classic' ? alias : nodePin);
      expect((await b.docker(['image', 'inspect', '--format', '{{.Id}}', alias], { reject: false })).exitCode).toBe(0);
      // the bundle step passed, kind found the node image without pulling and failed only where
      // a stand-in must: there is no kubeadm in it
      expect(up.stdout + up.stderr).toMatch(/loaded .*bundle\.tar \(\d+ images\)/);
      expect(up.exitCode).toBe(1);
      expect(up.stderr).toMatch(/^error: kind create cluster failed: /m);
      expect(up.stderr).not.toMatch(/pull|Ensuring node image.*(failed|error)/i);
    }, 600_000);

    it('the sink build is unchanged on a rebuild: same identity, both stores (finding 3)', async () => {
      const docker = dockerOf(a!);
      await time('sink build 1', () => buildSinkImage(docker, ROOT, 'mailkind-test/sink:t'));
      const first = await docker.imageIdentity('mailkind-test/sink:t');
      const id1 = await docker.imageId('mailkind-test/sink:t');
      await time('sink build 2', () => buildSinkImage(docker, ROOT, 'mailkind-test/sink:t'));
      expect(await docker.imageIdentity('mailkind-test/sink:t')).toBe(first);
      const id2 = await docker.imageId('mailkind-test/sink:t');
      timings.push(`sink image ID ${id1 === id2 ? 'stable' : 'changed'} across a cached rebuild with attestations off`);
      // the identity does follow the content: another Dockerfile, another identity
      const ctx = mkdtempSync(join(a!.dir, 'ctx-'));
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM mailkind-standin/base:1\nCOPY a /a\n');
      writeFileSync(join(ctx, 'a'), 'one');
      await docker.build({ context: ctx, dockerfile: join(ctx, 'Dockerfile'), tag: 'mailkind-test/x:1' });
      const one = await docker.imageIdentity('mailkind-test/x:1');
      writeFileSync(join(ctx, 'a'), 'two');
      await docker.build({ context: ctx, dockerfile: join(ctx, 'Dockerfile'), tag: 'mailkind-test/x:1' });
      expect(await docker.imageIdentity('mailkind-test/x:1')).not.toBe(one);
    }, 600_000);

    it('the registry recipe: a container on 127.0.0.1, joined to the kind network, answering (kind docs, local registry)', async () => {
      const e = b ?? a!;
      const docker = dockerOf(e);
      const [port] = await freePorts(1);
      const spec = { name: 'kind-registry', port: port!, image: registryImage };
      if (!(await localRef(docker, registryImage))) throw new Error('the registry stand-in is not on the daemon');
      expect(decideRegistry(await docker.container(spec.name))).toBe('run');
      const beforeRun = Date.now();
      await docker.runDetached(registryRunArgs({ ...spec, image: (await localRef(docker, registryImage))! }));
      if ((await e.docker(['network', 'inspect', 'kind'], { reject: false })).exitCode !== 0) await e.docker(['network', 'create', 'kind']);
      await docker.networkConnect('kind', spec.name);
      const c = await docker.container(spec.name);
      expect(c.running).toBe(true);
      // State.StartedAt, which up's wait for fresh pod statuses compares with (lifecycle/freshness.ts)
      expect(c.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      expect(Date.parse(c.startedAt!)).toBeGreaterThanOrEqual(Math.floor(beforeRun / 1000) * 1000);
      expect(c.portBindings['5000/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(port) }]);
      expect(c.networks.sort()).toEqual(['bridge', 'kind']);
      expect(decideRegistry(c)).toBe('keep');
      let answered = false;
      for (let i = 0; i < 100 && !answered; i++) {
        answered = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false);
        if (!answered) await new Promise((r) => setTimeout(r, 100));
      }
      expect(answered).toBe(true);
    }, 300_000);

    it('a taken port: the cause line is the bind error, not docker\'s help pointer (finding 5)', async () => {
      const [port] = await freePorts(1);
      const blocker: Server = createServer();
      await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
      try {
        const r = await a!.docker(['run', '--rm', '--publish', `127.0.0.1:${port}:80`, 'mailkind-standin/base:1', 'true'], { reject: false });
        expect(r.exitCode).toBe(125);
        const raw = r.stderr.trim().split('\n').filter((l) => l.trim()).at(-1);
        timings.push(`docker run's last stderr line: "${raw}"`);
        expect(lastLine(r.stderr)).toMatch(/address already in use|port is already allocated/);
        expect(lastLine(r.stderr)).not.toMatch(/--help/);
      } finally {
        blocker.close();
      }
    }, 120_000);

    it('platform checks: the engine reports an image\'s platform; one of another platform is named (finding 6)', async () => {
      const docker = dockerOf(a!);
      expect(await docker.imagePlatform('mailkind-standin/base:1')).toBe('linux/amd64');
      const tar = await execa('tar', ['-C', '/', '-c', 'etc/hostname'], { encoding: 'buffer' });
      await a!.docker(['import', '--platform', 'linux/arm64', '-', 'mailkind-standin/arm:1'], { input: tar.stdout });
      expect(await docker.imagePlatform('mailkind-standin/arm:1')).toBe('linux/arm64');
      const platforms = new Map([['mailkind-standin/base:1', await docker.imagePlatform('mailkind-standin/base:1')], ['mailkind-standin/arm:1', await docker.imagePlatform('mailkind-standin/arm:1')]]);
      expect(foreignImages(platforms, 'linux/amd64')).toEqual(['mailkind-standin/arm:1 (linux/arm64)']);
      // what Docker >= 28 does with save --platform of an image it lacks for that platform
      const save = await a!.docker(['image', 'save', '--platform', 'linux/amd64', '--output', join(a!.dir, 'arm.tar'), 'mailkind-standin/arm:1'], { reject: false });
      timings.push(`save --platform linux/amd64 of an arm64 image: exit ${save.exitCode}${save.exitCode ? `: ${lastLine(save.stderr)}` : ''}`);
    }, 120_000);

    it('kind v0.32.0 over this engine: config validation, node name, ports on 127.0.0.1', async () => {
      const e = b ?? a!;
      const docker = dockerOf(e);
      const settings = resolveSettings({});
      const nodeRef = (await localRef(docker, nodePin)) ?? nodePin;
      const ports = await freePorts(PORT_KEYS.length);
      const portMap = Object.fromEntries(PORT_KEYS.map((k, i) => [k, ports[i]!])) as typeof settings.ports;
      const desired = desiredCluster('mk-docker-tier', readFileSync(settings.paths.kindConfig, 'utf8'), portMap, nodeRef);
      const kindEnv = { ...process.env, ...env(e) };
      // strict decoding before Docker is asked anything
      const bad = desired.config.replace('role: control-plane', 'role: control-plane\n    bogusField: 1');
      const decode = await execa('kind', ['create', 'cluster', '--config', '-'], { input: bad, env: kindEnv, reject: false });
      expect(decode.stderr).toMatch(/unable to decode config/);
      const invalid = parse(desired.config) as { nodes: { extraPortMappings: { hostPort: number }[] }[] };
      invalid.nodes[0]!.extraPortMappings[0]!.hostPort = 70000;
      const v = await execa('kind', ['create', 'cluster', '--name', 'mk-bad', '--config', '-'], { input: JSON.stringify(invalid), env: kindEnv, reject: false });
      expect(v.stderr).toMatch(/invalid hostPort/);
      // the real create: goes as far as a stand-in node allows (no kubeadm), kept for inspection
      const create = await time('kind create (stand-in node)', () =>
        execa('kind', ['create', 'cluster', '--name', 'mk-docker-tier', '--config', '-', '--retain'], { input: desired.config, env: kindEnv, reject: false, timeout: 300_000 }),
      );
      try {
        expect(create.exitCode).not.toBe(0);
        timings.push(`kind's cause line: "${lastLine(String(create.stderr))}"`);
        expect(String(create.stderr)).toMatch(/Preparing nodes/);
        const node = await docker.container('mk-docker-tier-control-plane');
        expect(node.exists).toBe(true);
        expect(node.labels['io.x-k8s.kind.cluster']).toBe('mk-docker-tier');
        expect(node.networks).toContain('kind');
        for (const m of desired.mappings) expect(node.portBindings[`${m.containerPort}/tcp`], `${m.containerPort}`).toEqual([{ HostIp: '127.0.0.1', HostPort: String(m.hostPort) }]);
        // the API server's port too: kind publishes it on apiServerAddress (127.0.0.1)
        expect(node.portBindings['6443/tcp']?.[0]?.HostIp).toBe('127.0.0.1');
      } finally {
        await execa('kind', ['delete', 'cluster', '--name', 'mk-docker-tier'], { env: kindEnv, reject: false });
      }
      expect((await docker.container('mk-docker-tier-control-plane')).exists).toBe(false);
    }, 600_000);
  });
}

// The Tiltfile under the real tilt CLI. `tilt alpha tiltfile-result` evaluates it exactly as
// `tilt up` does (config args, kustomize(), the context guard, local()) without contacting a
// cluster, and prints the resulting resource graph as JSON; these tests hold that graph to the
// rendered manifests, the sink's Dockerfile and scripts/lib/config/settings.ts.
//
// What this proves: the graph Tilt would run. What it does not: Tilt against a live cluster (image
// build and push, live update into a pod, port-forwards, the pods rolling); see docs/tilt.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PORTS, resolveSettings } from '../../../scripts/lib/config/settings.js';
import { WORKLOAD_KINDS, podSpec, type K8sObject } from '../../manifests/lib/k8s.js';
import { findRenderer, render, type Renderer } from '../../manifests/lib/render.js';
import { fallbackWithout, skipWithout } from '../../helpers/prerequisites.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SINK = 'sinks/smtp-sink';
const PINNED = (JSON.parse(readFileSync(join(ROOT, 'versions.json'), 'utf8')) as { tilt: { version: string } }).tilt.version.replace(/^v/, '');
const DEFAULTS = resolveSettings({});
/** Tilt's TriggerMode enum (pkg/model/trigger_mode.go): manual, and not run at start either */
const TRIGGER_MODE_MANUAL = 2;
/** exit code of `tilt alpha tiltfile-result` for a Tiltfile error (`fail()` included) */
const TILTFILE_ERROR = 5;

// ---- finding tilt ----

function findTilt(): { file: string; version: string } | { skip: string } {
  const onPath = (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'tilt'));
  // the pinned build first (.ci/run makes it), then whatever the user has
  for (const file of [join(ROOT, '.cache/bin/tilt'), ...onPath]) {
    if (!existsSync(file)) continue;
    const r = spawnSync(file, ['version'], { encoding: 'utf8', timeout: 20_000 });
    if (r.status === 0) return { file, version: r.stdout.trim() };
  }
  return { skip: `tilt not found (.cache/bin/tilt or PATH): run scripts/provision/tilt.sh (builds tilt ${PINNED}) or install tilt` };
}

const tilt = findTilt();
const renderer = findRenderer(ROOT);
const WHAT = 'test/component/tilt (the Tiltfile under tilt alpha tiltfile-result)';
const skip = skipWithout(
  'skip' in tilt
    ? { what: WHAT, reason: tilt.skip, fix: 'bash scripts/provision/tilt.sh' }
    : 'skip' in renderer
      ? { what: WHAT, reason: renderer.skip, fix: 'install kubectl (https://kubernetes.io/docs/tasks/tools/)' }
      : undefined,
)
  ? 'missing prerequisite'
  : undefined;
// Tilt merges a tilt_config.json beside the Tiltfile into the arguments of every run below
if (existsSync(join(ROOT, 'tilt_config.json'))) console.warn('test/component/tilt: tilt_config.json changes the Tiltfile defaults these tests expect; move it away if they fail');
else if ('version' in tilt) {
  // another tilt than the pinned one proves less: reported, and a failure under MAILKIND_REQUIRE_ALL
  fallbackWithout(
    tilt.version.startsWith(`v${PINNED},`)
      ? undefined
      : { what: WHAT, reason: `using ${tilt.file} (${tilt.version}); the tests are written against tilt ${PINNED} (versions.json)`, fix: 'bash scripts/provision/tilt.sh' },
  );
}

// ---- the subset of the tiltfile-result JSON these tests read ----

interface Link {
  URL: { Scheme: string; Host: string; Path: string };
  Name: string;
}
interface ImageTarget {
  selector: string;
  LiveUpdateSpec: {
    basePath: string;
    stopPaths: string[] | null;
    syncs: { localPath: string; containerPath: string }[] | null;
    execs: { args: string[]; triggerPaths: string[] | null }[] | null;
  };
  BuildDetails: {
    dockerfileContents: string;
    context: string;
    target: string;
    contextIgnores: { basePath: string; patterns?: string[] | null }[] | null;
  };
}
interface Manifest {
  Name: string;
  ImageTargets: ImageTarget[] | null;
  TriggerMode: number;
  ResourceDependencies: string[] | null;
  Labels: Record<string, string> | null;
  DeployTarget: {
    yaml?: string;
    Links?: Link[] | null;
    portForwardTemplateSpec?: { forwards: { localPort: number; containerPort: number; name?: string; path?: string }[] };
    UpdateCmdSpec?: { args: string[]; dir: string; env: string[] | null };
  };
}
interface TiltfileResult {
  Manifests: Manifest[];
  ConfigFiles: string[];
  WatchSettings: { Ignores: { LocalPath: string; Patterns: string[] }[] | null };
  CISettings: { timeout: string; readinessTimeout: string } | null;
}

// ---- running it ----

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** argument lines the stand-in `npx` received (the bootstrap's command line), one per call */
  npx: string[];
}

let scratch = '';

/**
 * A kubeconfig shaped like kind's (context, cluster and user all named the context, which is how
 * Tilt recognises a kind cluster) whose current context is `current`. Nothing listens at the address.
 */
function kubeconfig(name: string, current: string | undefined, contexts: string[]): string {
  const file = join(scratch, `kubeconfig-${name}.yaml`);
  const lines = ['apiVersion: v1', 'kind: Config'];
  lines.push(`clusters:${contexts.length ? '' : ' []'}`, ...contexts.flatMap((c) => [`- name: ${c}`, '  cluster: { server: "https://127.0.0.1:1" }']));
  lines.push(`users:${contexts.length ? '' : ' []'}`, ...contexts.flatMap((c) => [`- name: ${c}`, '  user: {}']));
  lines.push(`contexts:${contexts.length ? '' : ' []'}`, ...contexts.flatMap((c) => [`- name: ${c}`, `  context: { cluster: ${c}, user: ${c} }`]));
  if (current !== undefined) lines.push(`current-context: ${current}`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/**
 * `tilt alpha tiltfile-result -- <args>`, with a stand-in `npx` first on PATH that records its
 * arguments and exits with `npxExit` (scripts/up.ts belongs to the bootstrap issue; this checks
 * that and how the Tiltfile calls it).
 */
async function tiltfileResult(name: string, opts: { args: string[]; kubeconfig: string; env?: Record<string, string>; npxExit?: number }): Promise<Run> {
  if ('skip' in tilt) throw new Error(tilt.skip);
  const bin = join(scratch, `bin-${name}`);
  const log = join(scratch, `npx-${name}.log`);
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'npx'), `#!/bin/sh\necho "$*" >> '${log}'\necho 'stand-in npx: bootstrap says no' >&2\nexit ${opts.npxExit ?? 0}\n`, { mode: 0o755 });
  // a clean environment: none of the developer's MAILKIND_*/TILT_* settings leak in
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(MAILKIND_|TILT_|KUBECONFIG$)/.test(k)) env[k] = v;
  Object.assign(env, {
    PATH: [bin, ...(process.env.PATH ?? '').split(delimiter), join(ROOT, '.cache/bin'), '/usr/local/bin', '/usr/bin'].join(delimiter),
    KUBECONFIG: opts.kubeconfig,
    HOME: scratch,
    TILT_DISABLE_ANALYTICS: '1',
    ...opts.env,
  });
  const r = await execa(tilt.file, ['alpha', 'tiltfile-result', '-f', join(ROOT, 'Tiltfile'), '--', ...opts.args], {
    cwd: ROOT,
    env,
    extendEnv: false,
    reject: false,
    timeout: 60_000,
  });
  const npx = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, npx };
}

function parse(run: Run): TiltfileResult {
  expect(run.code, `tilt alpha tiltfile-result failed:\n${run.stderr}`).toBe(0);
  return JSON.parse(run.stdout) as TiltfileResult;
}

function yamlObjects(text: string | undefined): K8sObject[] {
  return parseAllDocuments(text ?? '')
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

const key = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;

/** Tilt round-trips objects through the Kubernetes types, which adds empty fields (`updateStrategy: {}`). */
function withoutEmpty(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutEmpty);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const y = withoutEmpty(x);
    if (y === null || (typeof y === 'object' && !Array.isArray(y) && Object.keys(y).length === 0)) continue;
    out[k] = y;
  }
  return out;
}
const byName = (r: TiltfileResult): Map<string, Manifest> => new Map(r.Manifests.map((m) => [m.Name, m]));
const get = (r: TiltfileResult, name: string): Manifest => {
  const m = byName(r).get(name);
  if (!m) throw new Error(`no Tilt resource "${name}"; there are: ${r.Manifests.map((x) => x.Name).join(', ')}`);
  return m;
};
const isLocal = (m: Manifest): boolean => m.DeployTarget.UpdateCmdSpec !== undefined;
const workloads = (objs: K8sObject[]): string[] => objs.filter((o) => WORKLOAD_KINDS.has(o.kind)).map((o) => o.metadata.name).sort();

// ---- the scenarios, all evaluated up front (concurrently: each run takes well under a second) ----

const OK_CONTEXT = DEFAULTS.context; // kind-mailkind
let full: TiltfileResult;
let minimal: TiltfileResult;
let fromEnv: TiltfileResult;
let rendered: { full: K8sObject[]; minimal: K8sObject[] };
let runs: Record<'prod' | 'otherCluster' | 'noContext' | 'bootstrap' | 'bootstrapFails' | 'badProfile' | 'alreadyBootstrapped', Run>;
let fullRun: Run;

describe.skipIf(skip !== undefined)('Tiltfile (tilt alpha tiltfile-result)', () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'mailkind-tilt-'));
    const ok = kubeconfig('ok', OK_CONTEXT, [OK_CONTEXT]);
    const dev2 = kubeconfig('dev2', 'kind-dev2', ['kind-dev2', OK_CONTEXT]);
    const [f, m, e, prod, otherCluster, noContext, bootstrap, bootstrapFails, badProfile, alreadyBootstrapped, rf, rm] = await Promise.all([
      tiltfileResult('full', { args: ['--skip-bootstrap', '--profile', 'full'], kubeconfig: ok }),
      tiltfileResult('minimal', { args: ['--skip-bootstrap', '--profile', 'minimal'], kubeconfig: ok }),
      tiltfileResult('env', {
        args: ['--skip-bootstrap'],
        kubeconfig: dev2,
        env: { MAILKIND_PROFILE: 'minimal', MAILKIND_CLUSTER: 'dev2', MAILKIND_PORT_SINK_HTTP: '18025' },
      }),
      // a production-looking context: refused before anything runs, bootstrap included
      tiltfileResult('prod', { args: [], kubeconfig: kubeconfig('prod', 'prod-east', ['prod-east', OK_CONTEXT]) }),
      tiltfileResult('other-cluster', { args: ['--cluster', 'dev2'], kubeconfig: ok }),
      tiltfileResult('no-context', { args: [], kubeconfig: kubeconfig('none', undefined, []) }),
      tiltfileResult('bootstrap', { args: ['--cluster', 'dev2', '--profile', 'minimal'], kubeconfig: dev2 }),
      tiltfileResult('bootstrap-fails', { args: [], kubeconfig: ok, npxExit: 1 }),
      tiltfileResult('bad-profile', { args: ['--skip-bootstrap', '--profile', 'tiny'], kubeconfig: ok }),
      tiltfileResult('already', { args: [], kubeconfig: ok, env: { MAILKIND_TILT_BOOTSTRAPPED: `${DEFAULTS.cluster}/full` } }),
      render(renderer as Renderer, join(ROOT, 'manifests')),
      render(renderer as Renderer, join(ROOT, 'manifests/profiles/minimal')),
    ]);
    fullRun = f;
    full = parse(f);
    minimal = parse(m);
    fromEnv = parse(e);
    runs = { prod, otherCluster, noContext, bootstrap, bootstrapFails, badProfile, alreadyBootstrapped };
    rendered = { full: rf, minimal: rm };
  });

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  describe('resources', () => {
    it.each(['full', 'minimal'] as const)('%s profile: every workload of the rendered manifests is a resource, plus the namespace and the two buttons', (profile) => {
      const result = profile === 'full' ? full : minimal;
      const k8s = result.Manifests.filter((m) => !isLocal(m)).map((m) => m.Name).sort();
      expect(k8s).toEqual([...workloads(rendered[profile]), 'namespace'].sort());
      expect(result.Manifests.filter(isLocal).map((m) => m.Name).sort()).toEqual(['e2e', 'kumomta-policy', 'load']);
    });

    it('the profiles differ by exactly Mailman and Postgres', () => {
      const names = (r: TiltfileResult) => new Set(r.Manifests.map((m) => m.Name));
      const onlyFull = [...names(full)].filter((n) => !names(minimal).has(n)).sort();
      expect(onlyFull).toEqual(['mailman-core', 'mailman-web', 'postgres']);
    });

    it.each(['full', 'minimal'] as const)('%s profile: Tilt deploys every rendered object exactly once, unchanged but for the sink being writable', (profile) => {
      const result = profile === 'full' ? full : minimal;
      const deployed = result.Manifests.flatMap((m) => yamlObjects(m.DeployTarget.yaml));
      expect(deployed.map(key).sort()).toEqual(rendered[profile].map(key).sort());
      const want = new Map(rendered[profile].map((o) => [key(o), o]));
      for (const o of deployed) {
        const expected = structuredClone(want.get(key(o)));
        if (key(o) === 'Deployment/smtp-sink') {
          // live update syncs into the container, which a read-only root filesystem refuses
          const cs = (expected && podSpec(expected)?.containers) ?? [];
          expect(cs.length).toBeGreaterThan(0);
          for (const c of cs) {
            expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
            c.securityContext = { ...c.securityContext, readOnlyRootFilesystem: false };
          }
        }
        // Tilt's YAML round trip drops `status` (a server-owned field) from the StatefulSets'
        // claim templates; the manifests carry it only so that `kubectl apply`'s last-applied
        // diff matches the server's defaults (a second `npm run up` stays "unchanged").
        for (const t of (expected?.spec as { volumeClaimTemplates?: { status?: unknown }[] } | undefined)?.volumeClaimTemplates ?? []) {
          delete t.status;
        }
        expect(withoutEmpty(o), key(o)).toEqual(withoutEmpty(expected));
      }
    });

    it('groups the policy ConfigMaps with the workloads that mount them, so a policy edit re-applies and rolls those', () => {
      const cms = (name: string) => yamlObjects(get(full, name).DeployTarget.yaml).filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata.name);
      expect(cms('kumomta')).toEqual([expect.stringMatching(/^kumomta-policy-[a-z0-9]+$/)]);
      expect(cms('kumomta-tsa')).toEqual([expect.stringMatching(/^kumomta-tsa-policy-[a-z0-9]+$/)]);
      expect(cms('mailman-core')).toEqual([expect.stringMatching(/^mailman-core-config-[a-z0-9]+$/)]);
      // the StatefulSet names the hashed ConfigMap: a new hash is a new pod template
      const kumomtaYaml = get(full, 'kumomta').DeployTarget.yaml ?? '';
      expect(kumomtaYaml).toContain(`name: ${cms('kumomta')[0]}`);
    });

    it('watches every manifest and policy file, so an edit re-runs the Tiltfile with no manual step', () => {
      const walk = (dir: string): string[] =>
        readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
      const files = [...walk(join(ROOT, 'manifests/base')), join(ROOT, 'manifests/kustomization.yaml')];
      expect(files.some((f) => f.endsWith('policy/kumomta/init.lua'))).toBe(true);
      for (const f of files) expect(full.ConfigFiles, f).toContain(f);
      expect(minimal.ConfigFiles).toContain(join(ROOT, 'manifests/profiles/minimal/kustomization.yaml'));
    });
  });

  describe('labels and dependencies', () => {
    it('labels every resource with one group', () => {
      const labels = Object.fromEntries(full.Manifests.map((m) => [m.Name, Object.keys(m.Labels ?? {})]));
      expect(labels).toEqual({
        namespace: ['infra'],
        dragonfly: ['infra'],
        postgres: ['infra'],
        'kumomta-tsa': ['mta'],
        kumomta: ['mta'],
        'kumomta-policy': ['mta'],
        'mailman-core': ['lists'],
        'mailman-web': ['lists'],
        'smtp-sink': ['sink'],
        e2e: ['tests'],
        load: ['tests'],
      });
    });

    it('orders the stack: dragonfly -> kumomta-tsa -> kumomta (after the sink), postgres -> mailman-core -> mailman-web', () => {
      const deps = Object.fromEntries(full.Manifests.filter((m) => !isLocal(m)).map((m) => [m.Name, [...(m.ResourceDependencies ?? [])].sort()]));
      expect(deps).toEqual({
        namespace: [],
        dragonfly: ['namespace'],
        'smtp-sink': ['namespace'],
        'kumomta-tsa': ['dragonfly'],
        kumomta: ['dragonfly', 'kumomta-policy', 'kumomta-tsa', 'smtp-sink'],
        postgres: ['namespace'],
        'mailman-core': ['postgres'],
        'mailman-web': ['mailman-core'],
      });
    });
  });

  describe('the KumoMTA policy is validated by the pinned image (npm run validate)', () => {
    it('a local resource runs scripts/validate.ts at start and on every policy save, and kumomta waits for it', () => {
      const policy = get(full, 'kumomta-policy');
      expect(policy.DeployTarget.UpdateCmdSpec?.args).toEqual(['npx', 'tsx', 'scripts/validate.ts']);
      expect(policy.DeployTarget.UpdateCmdSpec?.dir).toBe(ROOT);
      expect(policy.TriggerMode, 'runs by itself, not as a button').not.toBe(TRIGGER_MODE_MANUAL);
      expect(get(full, 'kumomta').ResourceDependencies).toContain('kumomta-policy');
      expect(get(minimal, 'kumomta').ResourceDependencies).toContain('kumomta-policy');
    });
  });

  describe('the sink image and its live update', () => {
    const dockerfile = readFileSync(join(ROOT, SINK, 'Dockerfile'), 'utf8');
    const sinkPkg = JSON.parse(readFileSync(join(ROOT, SINK, 'package.json'), 'utf8')) as { name: string; scripts: { build: string } };
    // the `dev` stage's instructions
    const devStage = /^FROM \S+ AS dev$([\s\S]*?)(?=^FROM )/m.exec(dockerfile)?.[1] ?? '';
    const image = (r: TiltfileResult): ImageTarget => {
      const targets = get(r, 'smtp-sink').ImageTargets ?? [];
      expect(targets).toHaveLength(1);
      return targets[0] as ImageTarget;
    };

    it('builds only the sink, for the image the Deployment runs, from the Dockerfile dev stage (the runtime stage stays last)', () => {
      expect(full.Manifests.filter((m) => (m.ImageTargets ?? []).length > 0).map((m) => m.Name)).toEqual(['smtp-sink']);
      const deployment = rendered.full.find((o) => key(o) === 'Deployment/smtp-sink');
      const ref = (deployment && podSpec(deployment)?.containers[0]?.image) ?? '';
      expect(ref).toMatch(/^mailkind\/smtp-sink:/);
      expect(image(full).selector).toBe(ref.replace(/:[^/]*$/, ''));
      expect(image(full).BuildDetails.target).toBe('dev');
      expect(image(full).BuildDetails.context).toBe(ROOT);
      expect(image(full).BuildDetails.dockerfileContents).toBe(dockerfile);
      expect(devStage).not.toBe('');
      expect(dockerfile.trimEnd().split(/^FROM /m).at(-1)).toMatch(/^\S+ AS runtime$/m);
    });

    it('sends and watches only what the Dockerfile copies (sources, public, manifests of npm)', () => {
      const patterns = (image(full).BuildDetails.contextIgnores ?? []).flatMap((i) => i.patterns ?? []);
      for (const p of ['package.json', 'package-lock.json', `${SINK}/package.json`, `${SINK}/src`, `${SINK}/public`]) expect(patterns).toContain(`!${p}`);
    });

    it('syncs src/ and public/ into the dev stage tree, rebuilds the bundle on a source change and restarts on a dashboard change', () => {
      const lu = image(full).LiveUpdateSpec;
      expect(devStage).toMatch(/^WORKDIR \/src$/m);
      expect(lu.syncs).toEqual([
        { localPath: `${SINK}/src`, containerPath: `/src/${SINK}/src` },
        { localPath: `${SINK}/public`, containerPath: `/src/${SINK}/public` },
      ]);
      const outfile = /--outfile=(\S+)/.exec(sinkPkg.scripts.build)?.[1] ?? '';
      const bundle = `${SINK}/${outfile}`;
      // node --watch restarts the sink when the bundle is rewritten: that is the restart step
      expect(devStage).toContain(`ENTRYPOINT ["node", "--watch", "--watch-preserve-output", "${bundle}"]`);
      expect(lu.execs).toEqual([
        { args: ['sh', '-c', `npm run build --workspace ${sinkPkg.name}`], triggerPaths: [join(ROOT, SINK, 'src')], echoOff: false },
        { args: ['sh', '-c', `touch ${bundle}`], triggerPaths: [join(ROOT, SINK, 'public')], echoOff: false },
      ]);
      // the build stage really runs the same command, so the dev stage has esbuild and its inputs
      expect(dockerfile).toContain(`RUN npm run build --workspace ${sinkPkg.name}`);
    });

    it('falls back to a full image build when dependencies change', () => {
      expect([...(image(full).LiveUpdateSpec.stopPaths ?? [])].sort()).toEqual(['package-lock.json', 'package.json', `${SINK}/package.json`]);
    });
  });

  describe('links', () => {
    const urls = (r: TiltfileResult, name: string) =>
      (get(r, name).DeployTarget.Links ?? []).map((l) => `${l.URL.Scheme}://${l.URL.Host}${l.URL.Path}`);

    it('links the sink dashboard, KumoMTA, Mailman REST and Postorius on the host ports of settings.ts', () => {
      const host = (port: number, path: string) => `http://${DEFAULTS.host}:${port}${path}`;
      expect(urls(full, 'smtp-sink')).toEqual([host(PORTS.sinkHttp.host, '/'), host(PORTS.sinkHttp.host, '/api/stats')]);
      expect(urls(full, 'kumomta')).toEqual([host(PORTS.kumoHttp.host, '/rapidoc')]);
      expect(urls(full, 'mailman-core')).toEqual([host(PORTS.mailmanRest.host, '/3.1/system/versions')]);
      expect(urls(full, 'mailman-web')).toEqual([host(PORTS.mailmanWeb.host, '/postorius/lists/')]);
      expect(urls(fromEnv, 'smtp-sink')[0]).toBe(host(18025, '/'));
    });

    it("reaches kumod's loopback-only /metrics through a port-forward on a port no NodePort mapping uses", () => {
      const forwards = get(full, 'kumomta').DeployTarget.portForwardTemplateSpec?.forwards ?? [];
      expect(forwards).toHaveLength(1);
      const [fwd] = forwards;
      expect(fwd?.path).toBe('metrics');
      const sts = rendered.full.find((o) => key(o) === 'StatefulSet/kumomta');
      const kumod = (sts && podSpec(sts)?.containers.find((c) => c.name === 'kumod')) || undefined;
      expect(fwd?.containerPort).toBeDefined();
      expect(fwd?.containerPort).toBe(kumod?.ports?.find((p) => p.name === 'http')?.containerPort);
      expect(Object.values(PORTS).map((p) => p.host)).not.toContain(fwd?.localPort);
      // the policy really keeps /metrics to loopback peers (else the NodePort would do)
      expect(readFileSync(join(ROOT, 'manifests/base/policy/kumomta/init.lua'), 'utf8')).toMatch(/start_http_listener\s*\{[^}]*trusted_hosts\s*=\s*LOOPBACK/);
    });
  });

  describe('buttons', () => {
    it.each(['e2e', 'load'])('%s is a manual local resource: not run at start or on changes, after every workload', (name) => {
      for (const [r, objs, profile] of [[full, rendered.full, 'full'], [minimal, rendered.minimal, 'minimal']] as const) {
        const m = get(r, name);
        expect(m.TriggerMode).toBe(TRIGGER_MODE_MANUAL);
        expect(m.DeployTarget.UpdateCmdSpec?.args).toEqual(['sh', '-c', `npm run ${name}`]);
        expect(m.DeployTarget.UpdateCmdSpec?.dir).toBe(ROOT);
        expect(m.DeployTarget.UpdateCmdSpec?.env).toEqual(expect.arrayContaining([`MAILKIND_CLUSTER=${DEFAULTS.cluster}`, `MAILKIND_PROFILE=${profile}`]));
        expect([...(m.ResourceDependencies ?? [])].sort()).toEqual(workloads(objs));
      }
    });
  });

  describe('kube context guard and bootstrap', () => {
    it('refuses a production-looking context with a clear message, before running any command', () => {
      const r = runs.prod;
      expect(r.code).toBe(TILTFILE_ERROR);
      expect(r.stderr).toContain(`mailkind: refusing kube context "prod-east": this Tiltfile deploys only to "${OK_CONTEXT}"`);
      expect(r.stderr).toContain(`kubectl config use-context ${OK_CONTEXT}`);
      expect(r.npx).toEqual([]);
    });

    it('refuses the default context when --cluster names another cluster', () => {
      expect(runs.otherCluster.code).toBe(TILTFILE_ERROR);
      expect(runs.otherCluster.stderr).toContain(`refusing kube context "${OK_CONTEXT}": this Tiltfile deploys only to "kind-dev2"`);
      expect(runs.otherCluster.npx).toEqual([]);
    });

    it('with no context at all (a new machine) bootstraps, then asks for a restart (Tilt read the context at start)', () => {
      expect(runs.noContext.npx).toEqual([`tsx scripts/up.ts --for-tilt --cluster ${DEFAULTS.cluster} --profile full`]);
      expect(runs.noContext.code).toBe(TILTFILE_ERROR);
      expect(runs.noContext.stderr).toContain('refusing kube context "(none)"');
      expect(runs.noContext.stderr).toContain('stop Tilt and run it again');
    });

    it('runs the bootstrap with the cluster and profile arguments', () => {
      expect(runs.bootstrap.code, runs.bootstrap.stderr).toBe(0);
      expect(runs.bootstrap.npx).toEqual(['tsx scripts/up.ts --for-tilt --cluster dev2 --profile minimal']);
      // and not when told to skip it, or when this Tilt session already ran it
      expect(fullRun.npx).toEqual([]);
      expect(runs.alreadyBootstrapped.code, runs.alreadyBootstrapped.stderr).toBe(0);
      expect(runs.alreadyBootstrapped.npx).toEqual([]);
    });

    it('stops with the bootstrap output when the bootstrap fails', () => {
      expect(runs.bootstrapFails.code).toBe(TILTFILE_ERROR);
      expect(runs.bootstrapFails.stderr).toContain('stand-in npx: bootstrap says no');
    });

    it('takes the profile and cluster from the environment names of settings.ts', () => {
      expect(fromEnv.Manifests.map((m) => m.Name)).not.toContain('mailman-core');
      expect(get(fromEnv, 'e2e').DeployTarget.UpdateCmdSpec?.env).toEqual(expect.arrayContaining(['MAILKIND_CLUSTER=dev2', 'MAILKIND_PROFILE=minimal']));
    });

    it('rejects an unknown profile', () => {
      expect(runs.badProfile.code).toBe(TILTFILE_ERROR);
      expect(runs.badProfile.stderr).toContain('unknown profile "tiny": use full or minimal');
    });
  });

  describe('settings', () => {
    it('ignores dependencies and build output in its watches', () => {
      const patterns = (full.WatchSettings.Ignores ?? []).flatMap((i) => i.Patterns);
      expect(patterns).toEqual(expect.arrayContaining(['**/node_modules', '**/dist']));
    });

    it('gives `tilt ci` a timeout and room for first image pulls', () => {
      expect(full.CISettings).toEqual({ timeout: '30m0s', readinessTimeout: '10m0s' });
    });
  });
});

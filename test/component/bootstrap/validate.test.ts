// npm run validate, and the validate step of npm run up, against the fake docker
// (test/fixtures/fake-tools/fake-cli.mjs: it records each call and answers like the real CLI; the
// one-shot programs answer as the test scripts them). What this proves: the docker arguments
// (image, mounts, env, user, no network), the exit codes, that kumod's own error text reaches the
// user unchanged, and the skip switches. What it cannot: that the real kumod accepts the policy;
// that is what the command does on a machine with Docker (and in .github/workflows/e2e.yml).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { fakeWorld, realKubectl, ROOT, runEntry } from '../../helpers/fake-tools.js';
import { skipWithout } from '../../helpers/prerequisites.js';

const kustomization = parse(readFileSync(join(ROOT, 'manifests/base/kustomization.yaml'), 'utf8')) as { images: { name: string; newTag: string }[] };
const KUMOMTA = `ghcr.io/kumocorp/kumomta:${kustomization.images.find((i) => i.name === 'ghcr.io/kumocorp/kumomta')?.newTag ?? '?'}`;
const POLICY_DIR = join(ROOT, 'manifests/base/policy/kumomta');
// what kumod prints when init fails (crates/kumod/src/main.rs: the error of perform_init with its
// context chain; the conversion error comes from config::from_lua_value)
const KUMOD_ERROR =
  'Error: call init callback\n\nCaused by:\n    0: runtime error: invalid type: map, expected a sequence, while processing {"listen":"0.0.0.0:2525","relay_hosts":{}}\n';

const noStackTrace = (text: string) => expect(text).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);
const oneShots = (calls: string[][]) => calls.filter((c) => c[0] === 'docker' && c[1] === 'run' && c[2] === '--rm');
function flagValues(args: string[], name: string): string[] {
  return args.flatMap((a, i) => (a === name ? [args[i + 1] ?? ''] : []));
}

describe('npm run validate (fake docker)', () => {
  it('runs kumod --validate with the pod env, uid and the policy mounted read-only, then validate-shaping; no network', async () => {
    const w = await fakeWorld();
    const r = await runEntry('validate', [], w.env);
    expect(r.exitCode, r.stderr).toBe(0);
    const runs = oneShots(w.calls());
    expect(runs).toHaveLength(2);
    const [kumod, shaping] = runs as [string[], string[]];
    // kumod: the pinned image, its entrypoint and arguments
    expect(kumod.slice(kumod.indexOf('--entrypoint'))).toEqual(['--entrypoint', '/opt/kumomta/sbin/kumod', KUMOMTA, '--policy', '/opt/kumomta/etc/policy/init.lua', '--validate']);
    expect(flagValues(kumod, '--volume')).toEqual([`${POLICY_DIR}:/opt/kumomta/etc/policy:ro`]);
    expect(flagValues(kumod, '--network')).toEqual(['none']);
    expect(flagValues(kumod, '--user')).toEqual(['999:999']);
    expect(kumod).not.toContain('kumod --user');
    const env = Object.fromEntries(flagValues(kumod, '--env').map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    expect(env).toMatchObject({ POD_NAMESPACE: 'mailkind', TSA_REPLICAS: '1', RELAY_NETWORKS: '10.244.0.0/16,10.96.0.0/16', KUMO_HTTP_USER: 'validate-placeholder' });
    expect(env.KUMO_NODE_ID).toMatch(/^[0-9a-f-]{36}$/);
    expect(env.KUMO_NODE_ID_PATH).toBeUndefined();
    // every variable the policy reads is given (the same list test/manifests checks against the pod)
    for (const name of readFileSync(join(POLICY_DIR, 'init.lua'), 'utf8').matchAll(/os\.getenv\(\s*'([A-Z0-9_]+)'\s*\)/g)) expect(env).toHaveProperty(name[1] ?? '');
    // validate-shaping on the shaping file
    expect(shaping.slice(shaping.indexOf('--entrypoint'))).toEqual(['--entrypoint', '/opt/kumomta/sbin/validate-shaping', KUMOMTA, '/opt/kumomta/etc/policy/shaping.toml']);
    expect(flagValues(shaping, '--network')).toEqual(['none']);
    expect(r.stdout).toContain('ok   kumod --validate');
    expect(r.stdout).toContain('ok   validate-shaping');
    expect(r.stdout).toContain('tsa-daemon has no validation mode');
  }, 60_000);

  it("prints kumod's own error text and exits 1 when kumod refuses the policy", async () => {
    const w = await fakeWorld({ programs: { kumod: { stderr: KUMOD_ERROR, exitCode: 1 } } });
    const r = await runEntry('validate', [], w.env);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('error: the pinned KumoMTA image refuses the policy: kumod --validate exited 1');
    for (const line of KUMOD_ERROR.trimEnd().split('\n').filter(Boolean)) expect(r.stderr).toContain(line);
    expect(r.stdout).toContain('FAIL kumod --validate');
    noStackTrace(r.stderr);
  }, 60_000);

  it('a shaping error fails it too, with validate-shaping\'s text', async () => {
    const w = await fakeWorld({ programs: { 'validate-shaping': { stdout: 'ERROR: throttled.mailkind.test: unknown field `conection_limit`\n', exitCode: 1 } } });
    const r = await runEntry('validate', [], w.env);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('validate-shaping exited 1');
    expect(r.stderr).toContain('unknown field `conection_limit`');
  }, 60_000);

  it('without Docker: one line of cause, one of fix, exit 1; bad usage exits 2', async () => {
    const w = await fakeWorld({ dockerDown: true });
    const r = await runEntry('validate', [], w.env);
    expect(r.exitCode).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^error: the KumoMTA policy cannot be validated: Docker is not available \(Cannot connect to the Docker daemon/);
    expect(lines[1]).toMatch(/^ {2}fix: start Docker .*MAILKIND_SKIP_VALIDATE=1/);
    expect(lines).toHaveLength(2);
    expect(oneShots(w.calls())).toEqual([]);
    const bad = await runEntry('validate', ['--no-such-flag'], w.env);
    expect(bad.exitCode).toBe(2);
  }, 60_000);

  it('--images: every pinned image for amd64 and arm64, and the user each workload image runs as', async () => {
    const w = await fakeWorld({ imageUsers: { 'postgres:17.10-alpine3.23': '' }, kumodUid: '999' });
    const ok = await runEntry('validate', ['--images'], w.env);
    expect(ok.exitCode, ok.stderr).toBe(0);
    const inspected = w.calls().filter((c) => c[0] === 'docker' && c[1] === 'manifest').map((c) => c.at(-1));
    for (const i of kustomization.images.filter((x) => x.name !== 'mailkind/smtp-sink')) expect(inspected).toContain(`${i.name}:${i.newTag}`);
    expect(ok.stdout).toContain(`${KUMOMTA}: linux/amd64 + linux/arm64`);
    expect(ok.stdout).toMatch(/runs as root \(uid 0; no USER in the image\); its kumod user is uid 999/);

    const w2 = await fakeWorld({ manifests: { [KUMOMTA]: ['linux/amd64'] } });
    const missing = await runEntry('validate', ['--images'], w2.env);
    expect(missing.exitCode).toBe(1);
    expect(missing.stdout).toContain(`${KUMOMTA}: MISSING linux/arm64 (has linux/amd64)`);
  }, 60_000);
});

const kubectl = realKubectl();
const skip = skipWithout(kubectl ? undefined : { what: 'npm run up validate step (fake docker)', reason: 'kubectl not found: the fake kubectl renders manifests with the real `kubectl kustomize`', fix: 'bash scripts/provision/kubernetes.sh (or install kubectl)' });

describe.skipIf(skip)('npm run up validates the policy before it applies manifests (fake docker and kind)', () => {
  it("stops before any manifest is applied when kumod refuses the policy, with kumod's text", async () => {
    const w = await fakeWorld({ programs: { kumod: { stderr: KUMOD_ERROR, exitCode: 1 } } });
    const r = await runEntry('up', [], w.env);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('invalid type: map, expected a sequence');
    // neither the manifests nor the Secrets (the local-registry ConfigMap of kind's own setup may be)
    expect(w.calls().filter((c) => c[0] === 'kubectl' && c.includes('apply') && (c.includes('--kustomize') || c.includes('secret')))).toEqual([]);
    expect(oneShots(w.calls())).toHaveLength(2);
    noStackTrace(r.stderr);
  }, 120_000);

  it('--skip-validate and MAILKIND_SKIP_VALIDATE=1 skip it with a warning', async () => {
    for (const [args, env] of [
      [['--skip-validate'], {}],
      [[], { MAILKIND_SKIP_VALIDATE: '1' }],
    ] as const) {
      const w = await fakeWorld({ programs: { kumod: { stderr: KUMOD_ERROR, exitCode: 1 } } });
      const r = await runEntry('up', [...args], { ...w.env, ...env });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/warning: (--skip-validate|MAILKIND_SKIP_VALIDATE=1): the KumoMTA policy is applied without kumod checking it first/);
      expect(oneShots(w.calls())).toEqual([]);
    }
  }, 240_000);
});

describe('.github/workflows/e2e.yml', () => {
  it('validates the policy and the pinned images before `npm run up`', () => {
    const wf = parse(readFileSync(join(ROOT, '.github/workflows/e2e.yml'), 'utf8')) as { jobs: Record<string, { steps: { run?: string }[] }> };
    const runs = Object.values(wf.jobs).flatMap((j) => j.steps.map((s) => s.run ?? ''));
    const validate = runs.findIndex((r) => /^npm run validate$/m.test(r));
    const images = runs.findIndex((r) => /^npm run validate -- --images$/m.test(r));
    const up = runs.findIndex((r) => /^npm run up$/m.test(r));
    expect(validate).toBeGreaterThanOrEqual(0);
    expect(images).toBeGreaterThanOrEqual(0);
    expect(validate).toBeLessThan(up);
    expect(images).toBeLessThan(up);
  });
});

// Real processes and real HTTP: the execa runner, --install-tools' download and checksum check
// (against a local server standing in for the release hosts), the generated overlay rendered by
// the real `kubectl kustomize`, and `npm run up` as a new user on a machine with no Docker engine.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { type DownloadServer, startDownloadServer } from '../../helpers/download-server.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CommandError, execaRunner } from '../../../scripts/lib/tools/runner.js';
import { downloads, installTool, parseChecksum } from '../../../scripts/lib/tools/install.js';
import { overlayKustomization } from '../../../scripts/lib/lifecycle/overlay.js';
import { readToolPins } from '../../../scripts/lib/config/pins.js';
import { ROOT, realKubectl } from '../../helpers/fake-tools.js';
import { skipWithout } from '../../helpers/prerequisites.js';

describe('execaRunner', () => {
  const run = execaRunner();
  it('returns output, throws a one-line CommandError on failure, and knows a missing program', async () => {
    expect((await run('sh', ['-c', 'echo hi; echo warn >&2'])).stdout).toBe('hi');
    const e = await run('sh', ['-c', 'echo one >&2; echo "the real error" >&2; exit 3']).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CommandError);
    expect((e as Error).message).toBe("sh -c 'echo one >&2; echo \"the real error\" >&2; exit 3': exit 3: the real error");
    const missing = await run('mailkind-no-such-tool', ['x'], { reject: false });
    expect(missing).toMatchObject({ notFound: true });
    expect(await run('sleep', ['5'], { reject: false, timeoutMs: 200 })).toMatchObject({ timedOut: true });
    expect((await run('cat', [], { input: 'from stdin' })).stdout).toBe('from stdin');
  });
});

describe('doctor --install-tools: download and verify', () => {
  const binary = Buffer.from('#!/bin/sh\necho fake kind\n');
  const good = createHash('sha256').update(binary).digest('hex');
  let server: DownloadServer;
  let base = '';
  let checksum = `${good}  kind-linux-amd64\n`;
  beforeAll(async () => {
    // checksum is read per request: the bad-checksum test changes it
    server = await startDownloadServer((url) => {
      if (url.endsWith('.sha256sum')) return checksum;
      if (url.endsWith('/kind-linux-amd64')) return binary;
      return undefined;
    });
    base = server.base;
  });
  afterAll(() => server.close());

  it('builds the release URLs of the pinned versions', () => {
    const pins = readToolPins(ROOT);
    const [kind, kubectl] = downloads(pins, 'linux', 'x64');
    expect(kind!.url).toBe(`https://github.com/kubernetes-sigs/kind/releases/download/${pins.kind.version}/kind-linux-amd64`);
    expect(kind!.checksumUrl).toBe(`${kind!.url}.sha256sum`);
    expect(kubectl!.url).toBe(`https://dl.k8s.io/release/${pins.kubectl.version}/bin/linux/amd64/kubectl`);
    expect(kubectl!.checksumUrl).toBe(`${kubectl!.url}.sha256`);
    expect(downloads(pins, 'darwin', 'arm64')[0]!.url).toMatch(/kind-darwin-arm64$/);
    expect(() => downloads(pins, 'win32', 'x64')).toThrow(/Linux and macOS/);
    expect(parseChecksum(`${good}\n`)).toBe(good);
    expect(() => parseChecksum('<html>')).toThrow(/no SHA-256/);
  });

  it('installs an executable whose checksum matches, and nothing when it differs', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'mailkind-bin-'));
    const d = { tool: 'kind' as const, version: 'v0.32.0', url: `${base}/v0.32.0/kind-linux-amd64`, checksumUrl: `${base}/v0.32.0/kind-linux-amd64.sha256sum` };
    const path = await installTool(d, bin);
    expect(statSync(path).mode & 0o111).not.toBe(0);
    expect((await execa(path)).stdout).toBe('fake kind');

    checksum = `${'0'.repeat(64)}  kind-linux-amd64\n`;
    const other = mkdtempSync(join(tmpdir(), 'mailkind-bin-'));
    await expect(installTool(d, other)).rejects.toThrow(/checksum mismatch .*not installed/);
    expect(readdirSync(other)).toEqual([]);
    await expect(installTool({ ...d, url: `${base}/nope` }, other)).rejects.toThrow(/HTTP 404/);
  });
});

const kubectl = realKubectl();
const noKubectl = skipWithout(
  kubectl ? undefined : { what: 'test/component/bootstrap/tools.test.ts: the generated overlay rendered by kubectl kustomize', reason: 'kubectl not found on PATH', fix: 'install kubectl (https://kubernetes.io/docs/tasks/tools/)' },
);
describe.skipIf(noKubectl)('the generated overlay, rendered by the real kubectl kustomize', () => {
  it('renames the namespace everywhere, points the sink at a pushed image and annotates its template', async () => {
    // under the checkout, like the real overlays (.mailkind/ is git-ignored; a fresh clone lacks it)
    mkdirSync(join(ROOT, '.mailkind'), { recursive: true });
    const state = mkdtempSync(join(ROOT, '.mailkind', 'test-overlay-'));
    writeFileSync(
      join(state, 'kustomization.yaml'),
      overlayKustomization({
        overlayDir: state,
        manifestsDir: join(ROOT, 'manifests/profiles/minimal'),
        namespace: 'team-a',
        sinkImage: { newName: 'registry.example.com/mailkind/smtp-sink', newTag: '0123456789abcdef' },
        sinkImageId: 'sha256:feedface',
      }),
    );
    const { stdout } = await execa(kubectl!, ['kustomize', state]);
    const objects = parseAllDocuments(stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string }; spec?: { template?: { metadata?: { annotations?: Record<string, string> }; spec?: { containers?: { image: string }[] } } } });
    expect(objects.find((o) => o.kind === 'Namespace')?.metadata.name).toBe('team-a');
    expect(objects.filter((o) => o.kind !== 'Namespace').every((o) => o.metadata.namespace === 'team-a')).toBe(true);
    const sink = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'smtp-sink')!;
    expect(sink.spec?.template?.spec?.containers?.[0]?.image).toBe('registry.example.com/mailkind/smtp-sink:0123456789abcdef');
    expect(sink.spec?.template?.metadata?.annotations?.['mailkind.dev/sink-image-id']).toBe('sha256:feedface');
    expect(objects.some((o) => o.metadata.name.startsWith('mailman'))).toBe(false);
    await import('node:fs/promises').then((fs) => fs.rm(state, { recursive: true, force: true }));
  });
});

/**
 * A hermetic new user: PATH holds only node, npm and sh (plus the docker CLI when asked),
 * DOCKER_HOST points at a socket that does not exist, HOME, DOCKER_CONFIG and the state dir are
 * empty temporary directories. So `up` cannot reach a Docker engine even on a machine that has one.
 */
async function upAsNewUser(withDockerCli: string | undefined) {
  const home = mkdtempSync(join(tmpdir(), 'mailkind-newuser-'));
  const bin = join(home, 'bin');
  mkdirSync(bin);
  for (const [name, target] of [['node', process.execPath], ['npm', which('npm')], ['sh', which('sh')], ...(withDockerCli ? [['docker', withDockerCli]] : [])] as const) {
    if (target) symlinkSync(target, join(bin, name));
  }
  const state = join(home, 'state');
  const env = { PATH: bin, HOME: home, CI: 'true', MAILKIND_STATE_DIR: state, DOCKER_HOST: `unix://${home}/no-docker-here.sock`, DOCKER_CONFIG: join(home, 'docker-config') };
  const started = performance.now();
  const r = await execa(join(bin, 'npm'), ['run', '--silent', 'up'], { cwd: ROOT, reject: false, env, extendEnv: false, timeout: 60_000 });
  const seconds = (performance.now() - started) / 1000;
  console.log(`npm run up without a Docker engine (${withDockerCli ? 'docker CLI, no daemon' : 'no docker CLI'}): exit ${r.exitCode} after ${seconds.toFixed(1)} s: ${String(r.stderr).split('\n')[0]}`);
  const secretsWritten = existsSync(join(state, 'secrets.json'));
  rmSync(home, { recursive: true, force: true });
  return { ...r, stderr: String(r.stderr), secretsWritten };
}

function which(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir, program);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

const dockerCli = [join(ROOT, '.cache/bin/docker'), which('docker')].find((p) => p !== undefined && existsSync(p));
const noDockerCli = skipWithout(
  dockerCli
    ? undefined
    : {
        what: "test/component/bootstrap/tools.test.ts: npm run up with a docker CLI but no daemon",
        reason: 'no docker CLI on PATH or in .cache/bin',
        fix: 'install the Docker CLI (https://docs.docker.com/engine/install/) or link one into .cache/bin',
      },
);

describe('a new user on this machine (no Docker engine): npm run up', () => {
  it('without a docker CLI: the cause and "install Docker", no stack trace, nothing generated', async () => {
    const r = await upAsNewUser(undefined);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^error: Docker daemon: docker: not found/m);
    expect(r.stderr).toMatch(/^ {2}fix: install Docker/m);
    expect(r.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    expect(r.secretsWritten, 'nothing generated before preflight passes').toBe(false);
  });

  it.skipIf(noDockerCli)('with a docker CLI and no daemon (DOCKER_HOST at a missing socket): the cause and "start Docker"', async () => {
    const r = await upAsNewUser(dockerCli);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^error: Docker daemon: Cannot connect to the Docker daemon at unix:\/\/.*no-docker-here\.sock/m);
    expect(r.stderr).toMatch(/^ {2}fix: start Docker/m);
    expect(r.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    expect(r.secretsWritten, 'nothing generated before preflight passes').toBe(false);
  });
});

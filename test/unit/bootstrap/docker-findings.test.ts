// Pure decisions behind the Docker/kind findings of issue 17: how `docker info` is read (store,
// CLI), when `save --platform` is usable, the bundle's name for a digest pin, the cause line of a
// failed `docker run`, the pull hints. The real engine checks the same in test/docker.
import { describe, expect, it } from 'vitest';
import { imageTransfer, parseDockerInfo, supportsSavePlatform } from '../../../scripts/lib/tools/docker.js';
import { engineCheck, toolChecks } from '../../../scripts/lib/lifecycle/checks.js';
import { readToolPins } from '../../../scripts/lib/config/pins.js';
import { bundleSaveRefs, digestAlias, foreignImages, pullFailureHint, samePin } from '../../../scripts/lib/lifecycle/images.js';
import { lastLine } from '../../../scripts/lib/tools/runner.js';
import { clusterDifferences, desiredCluster } from '../../../scripts/lib/lifecycle/cluster.js';
import { resolveSettings } from '../../../scripts/lib/config/settings.js';
import { readFileSync } from 'node:fs';

const NODE = 'kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5';

describe('docker info: store and CLI (findings 2, 7)', () => {
  it('reads the containerd store from DriverStatus and the CLI version from ClientInfo', () => {
    // the shape moby v29 and docker/cli v28 print for `docker info --format '{{json .}}'`
    const cd = parseDockerInfo(JSON.stringify({ ServerVersion: '29.8.0-dev', Driver: 'overlayfs', DriverStatus: [['driver-type', 'io.containerd.snapshotter.v1']], ClientInfo: { Version: '28.2.2' } }), 0, '');
    expect(cd).toMatchObject({ imageStore: 'containerd', storageDriver: 'overlayfs', clientVersion: '28.2.2', serverVersion: '29.8.0-dev' });
    const classic = parseDockerInfo(JSON.stringify({ ServerVersion: '27.5.1', Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'extfs'], ['Supports d_type', 'true']] }), 0, '');
    expect(classic).toMatchObject({ imageStore: 'classic', storageDriver: 'overlay2', clientVersion: '' });
  });

  it('uses save --platform only when engine and CLI are both 28 or newer', () => {
    expect(supportsSavePlatform('28.0.0', '28.0.0')).toBe(true);
    expect(supportsSavePlatform('29.8.0-dev', '28.2.2')).toBe(true);
    expect(supportsSavePlatform('29.1.0', '27.4.0')).toBe(false);
    expect(supportsSavePlatform('27.5.1', '29.0.0')).toBe(false);
    expect(supportsSavePlatform('29.1.0', '')).toBe(false);
  });

  it('refuses the containerd store without save --platform, accepts the classic store', () => {
    expect(imageTransfer({ serverVersion: '27.5.1', clientVersion: '27.5.1', imageStore: 'containerd' })).toMatchObject({ ok: false, fix: expect.stringContaining('Docker 28') as string });
    expect(imageTransfer({ serverVersion: '29.1.0', clientVersion: '27.4.0', imageStore: 'containerd' })).toMatchObject({ ok: false, fix: expect.stringContaining('CLI') as string });
    expect(imageTransfer({ serverVersion: '27.5.1', clientVersion: '27.5.1', imageStore: 'classic' })).toEqual({ ok: true, savePlatform: false });
    expect(imageTransfer({ serverVersion: '29.8.0-dev', clientVersion: '28.2.2', imageStore: 'containerd' })).toEqual({ ok: true, savePlatform: true });
    const base = parseDockerInfo(JSON.stringify({ ServerVersion: '26.1.4', Driver: 'overlay2', ClientInfo: { Version: '26.1.4' } }), 0, '');
    expect(engineCheck(base)).toMatchObject({ level: 'warn', detail: expect.stringContaining('older than Docker 27') as string });
  });
});

describe('the bundle keeps digest pins by name (finding 1)', () => {
  it('saves a digest pin under an alias tag that names exactly that digest', () => {
    expect(digestAlias(NODE)).toBe('kindest/node:sha256-3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5');
    expect(digestAlias(`127.0.0.1:5001/x@sha256:${'a'.repeat(64)}`)).toBe(`127.0.0.1:5001/x:sha256-${'a'.repeat(64)}`);
    expect(digestAlias('postgres:17')).toBeUndefined();
    expect(bundleSaveRefs([NODE, 'postgres:17'])).toEqual([digestAlias(NODE), 'postgres:17']);
    expect(samePin(NODE, digestAlias(NODE)!)).toBe(true);
    expect(samePin(digestAlias(NODE)!, NODE)).toBe(true);
    expect(samePin(NODE, 'kindest/node:v1.36.1')).toBe(false);
  });

  it('takes a node started from the alias as the pinned one', () => {
    const settings = resolveSettings({});
    const desired = desiredCluster('mailkind', readFileSync(settings.paths.kindConfig, 'utf8'), settings.ports);
    const ports = Object.fromEntries(desired.mappings.map((m) => [`${m.containerPort}/tcp`, [{ HostIp: m.listenAddress, HostPort: String(m.hostPort) }]]));
    const node = { exists: true, running: true, image: digestAlias(desired.nodeImage)!, portBindings: ports, networks: ['kind'], labels: {} };
    expect(clusterDifferences(node, desired)).toEqual([]);
    expect(clusterDifferences({ ...node, image: 'kindest/node:v1.35.0' }, desired)).toHaveLength(1);
  });

  it('names the images of another platform (finding 6)', () => {
    const p = new Map([['a:1', 'linux/amd64'], ['b:1', 'linux/arm64'], ['c:1', undefined]]);
    expect(foreignImages(p, 'linux/amd64')).toEqual(['b:1 (linux/arm64)']);
  });
});

describe('the cause of a failure, not the help pointer after it (finding 5)', () => {
  it('skips docker\'s "Run \'docker run --help\'" and kind\'s repetition of it', () => {
    // docker/cli v28: the daemon's error, then the help pointer
    const dockerRun = "docker: Error response from daemon: failed to set up container networking: driver failed programming external connectivity on endpoint x: failed to bind host port 127.0.0.1:8000/tcp: address already in use\n\nRun 'docker run --help' for more information";
    expect(lastLine(dockerRun)).toMatch(/^docker: Error response from daemon: .*address already in use$/);
    const kind = `ERROR: failed to create cluster: command "docker run --name m-control-plane ..." failed with error: exit status 125\nCommand Output: ${dockerRun}`;
    expect(lastLine(kind)).toMatch(/address already in use$/);
    expect(lastLine("docker: invalid reference format.\nSee 'docker run --help'.")).toBe('docker: invalid reference format.');
    expect(lastLine('one\ntwo\n')).toBe('two');
  });
});

describe('pull hints (finding 13)', () => {
  it('knows the containerd store\'s wording for a missing platform', () => {
    expect(pullFailureHint('Error response from daemon: no match for platform in manifest: not found')).toMatch(/no variant for this platform/);
    expect(pullFailureHint('no matching manifest for linux/arm64/v8 in the manifest list entries')).toMatch(/no variant for this platform/);
  });
});

describe('the kustomize Tilt really uses (finding 11)', () => {
  it('warns about an old standalone kustomize on PATH when tilt is there, says nothing otherwise', () => {
    const pins = readToolPins(resolveSettings({}).paths.root);
    const base = { kind: 'kind v0.32.0', kubectl: 'v1.36.1', tilt: 'v0.37.6, built 2026-07-28' };
    const old = toolChecks({ ...base, kustomize: '{Version:kustomize/v4.5.7 GitCommit:56d82a8 BuildDate:2022-08-02T16:35:54Z GoOs:linux GoArch:amd64}' }, pins, true).find((c) => c.id === 'kustomize');
    expect(old).toMatchObject({ level: 'warn', detail: expect.stringContaining('labels.includeTemplates') as string });
    expect(toolChecks({ ...base, kustomize: 'v5.5.0' }, pins, true).find((c) => c.id === 'kustomize')?.level).toBe('ok');
    expect(toolChecks({ ...base, kustomize: undefined }, pins, true).find((c) => c.id === 'kustomize')).toBeUndefined();
    expect(toolChecks({ ...base, tilt: undefined, kustomize: 'v4.5.7' }, pins, true).find((c) => c.id === 'kustomize')).toBeUndefined();
  });
});

// Findings of the Docker/kind audit (issue 17) that a real engine cannot show here, against the
// fake docker, kind and kubectl (test/fixtures/fake-tools). Each fake answer used below is derived
// from the upstream source cited in fake-cli.mjs. The same findings are checked on a real engine
// where it can answer (test/docker).
import { describe, expect, it } from 'vitest';
import { fakeWorld, realKubectl, runEntry } from '../../helpers/fake-tools.js';

const line = (c: string[]) => c.join(' ');
const skip = realKubectl() === undefined;

describe.skipIf(skip)('up and bundle against engines, clusters and kubeconfigs the machine does not have', () => {
  it('waits for the API server of a restarted cluster instead of failing on the refused connection (finding 4)', async () => {
    const w = await fakeWorld();
    expect((await runEntry('up', ['--for-tilt'], w.env)).exitCode).toBe(0);
    // Docker restarted: the node runs again, its API server refuses connections for a while
    w.setState({ apiDownCalls: 3 });
    const r = await runEntry('up', ['--for-tilt'], w.env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(w.state().apiDownCalls).toBe(0);
    expect(w.calls().filter((c) => line(c).includes('get --raw /readyz')).length).toBeGreaterThanOrEqual(4);
  }, 90_000);

  it('recreates a cluster whose creation stopped after kubeadm init (no CNI, no StorageClass) (finding 8)', async () => {
    const w = await fakeWorld();
    expect((await runEntry('up', ['--for-tilt'], w.env)).exitCode).toBe(0);
    w.setState({ noAddons: ['mailkind'] });
    const r = await runEntry('up', ['--for-tilt'], w.env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('recreated (the previous one lacked daemonset/kindnet, storageclass/standard)');
    expect(w.calls().map(line)).toContain('kind delete cluster --name mailkind');
  }, 90_000);

  it('gives the user back their kube context; says so when Tilt needs the switch (finding 10)', async () => {
    const w = await fakeWorld({ currentContext: 'prod-cluster', externalContexts: ['prod-cluster'] });
    const r = await runEntry('up', ['--profile', 'minimal'], w.env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(w.state().currentContext).toBe('prod-cluster');
    expect(r.stdout).toContain('your current context stays prod-cluster');
    const t = await runEntry('up', ['--for-tilt'], w.env);
    expect(t.exitCode, t.stderr).toBe(0);
    expect(w.state().currentContext).toBe('kind-mailkind');
    expect(t.stdout).toContain('current context switched from prod-cluster to kind-mailkind (Tilt deploys there)');
  }, 120_000);

  it('refuses Docker 27 with the containerd image store, naming the fix; accepts it with the classic store (finding 2)', async () => {
    // Docker Desktop 4.34-4.38: engine 27 with the containerd store (moby v27.5 saves the whole index)
    const w = await fakeWorld({ serverVersion: '27.5.1', clientVersion: '27.5.1', imageStore: 'containerd' });
    for (const entry of ['up', 'bundle'] as const) {
      const r = await runEntry(entry, entry === 'bundle' ? ['--output', `${w.dir}/b.tar`] : [], w.env);
      expect(r.exitCode, `${entry}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/error: .*27\.5\.1 with the containerd image store cannot save one platform/);
      expect(r.stderr).toContain('upgrade to Docker 28 or newer');
    }
    const doctor = await runEntry('doctor', [], w.env);
    expect(doctor.stdout).toMatch(/^FAIL?\s+Docker daemon\s+27\.5\.1 .*containerd image store/im);
    // classic store, Docker 27: saves the one platform it has, without --platform
    const classic = await fakeWorld({ serverVersion: '27.5.1', clientVersion: '27.5.1', imageStore: 'classic' });
    const b = await runEntry('bundle', ['--output', `${classic.dir}/b.tar`], classic.env);
    expect(b.exitCode, b.stderr).toBe(0);
    const save = classic.calls().map(line).find((c) => c.startsWith('docker image save'));
    expect(save).toBeDefined();
    expect(save).not.toContain('--platform');
  }, 120_000);

  it('decides `save --platform` by the CLI too: a CLI 27 talking to engine 29 (finding 7)', async () => {
    const w = await fakeWorld({ serverVersion: '29.1.0', clientVersion: '27.4.0', imageStore: 'classic' });
    const b = await runEntry('bundle', ['--output', `${w.dir}/b.tar`], w.env);
    expect(b.exitCode, b.stderr).toBe(0);
    expect(w.calls().map(line).find((c) => c.startsWith('docker image save'))).not.toContain('--platform');
    const cd = await fakeWorld({ serverVersion: '29.1.0', clientVersion: '27.4.0', imageStore: 'containerd' });
    const r = await runEntry('bundle', ['--output', `${cd.dir}/b.tar`], cd.env);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('the docker CLI 27.4.0 with the containerd image store');
    expect(r.stderr).toContain('upgrade the docker CLI to 28 or newer');
  }, 120_000);

  it('refuses to load images of another platform from a bundle (finding 6)', async () => {
    const w = await fakeWorld();
    const bundle = await runEntry('bundle', ['--output', `${w.dir}/b.tar`], w.env);
    expect(bundle.exitCode, bundle.stderr).toBe(0);
    // the same archive on a machine where the images are arm64 (a bundle made for another platform)
    w.setState({ hostImages: {}, offline: true, imagePlatforms: { 'postgres:17.10-alpine3.23': 'linux/arm64' } });
    const up = await runEntry('up', ['--images', `${w.dir}/b.tar`], w.env);
    expect(up.exitCode).toBe(1);
    expect(up.stderr).toContain('error: images for another platform than this linux/amd64 Docker: postgres:17.10-alpine3.23 (linux/arm64)');
    expect(up.stderr).toContain('npm run bundle -- --platform linux/amd64');
    expect(w.calls().map(line).filter((c) => c.startsWith('kind create'))).toEqual([]);
  }, 90_000);
});

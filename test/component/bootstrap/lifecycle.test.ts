// The real entry points (npm run up / down / status) against fake docker, kind and kubectl on PATH
// (test/fixtures/fake-tools: they record their arguments and answer like the real CLIs) and the
// real `kubectl kustomize`. What this proves: the command plans, idempotence, and the errors.
// What it cannot: that a real Docker and kind behave as the fakes do. The kubectl side (apply,
// rollouts, status, profile switches, --context, down) runs against a real API server in
// test/cluster/stack.test.ts; the fake kubectl here only stands in for the kind cluster, which
// needs a Docker engine to exist.
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fakeWorld, mutatingCalls, realKubectl, runEntry } from '../../helpers/fake-tools.js';
import { skipWithout } from '../../helpers/prerequisites.js';

const kubectl = realKubectl();
const skip = skipWithout(
  kubectl ? undefined : { what: `test/component/bootstrap/lifecycle.test.ts (npm run up / down / status against fake docker and kind)`, reason: 'kubectl not found: the fake kubectl renders manifests with the real `kubectl kustomize`', fix: 'install kubectl (https://kubernetes.io/docs/tasks/tools/)' },
)
  ? 'kubectl not found'
  : undefined;

const line = (c: string[]) => c.join(' ');

describe.skipIf(skip !== undefined)('npm run up / down / status (fake docker and kind, real kustomize)', () => {
  it('first up creates everything; a second up changes nothing; down deletes; a second down is fine', async () => {
    const w = await fakeWorld();
    const first = await runEntry('up', [], w.env);
    expect(first.stderr + first.stdout, 'first up').toContain('mailkind is up');
    expect(first.exitCode).toBe(0);

    const calls = w.calls().map(line);
    // the cluster from the config, with the configured host ports
    expect(calls).toContain('kind create cluster --name mailkind --config - --wait 120s');
    // every pinned image pulled for the Docker host's platform, then loaded into the node in one archive
    const pulls = calls.filter((c) => c.startsWith('docker pull'));
    expect(pulls).toHaveLength(5);
    for (const p of pulls) expect(p).toMatch(/^docker pull --quiet --platform linux\/amd64 \S+:\S+$/);
    expect(calls.filter((c) => c.startsWith('docker image save --platform linux/amd64'))).toHaveLength(2);
    expect(calls.filter((c) => c.startsWith('kind load image-archive'))).toHaveLength(2);
    expect(calls.some((c) => c.startsWith('docker build --quiet --file') && c.includes('--tag mailkind/smtp-sink:dev'))).toBe(true);
    // the local registry recipe: container, kind network, hosts.toml on the node, KEP-1755 ConfigMap
    expect(calls).toContain(`docker run --detach --restart=always --publish 127.0.0.1:${w.registryPort}:5000 --network bridge --name kind-registry registry:3.0.0`);
    expect(calls).toContain('docker network connect kind kind-registry');
    const st = w.state();
    expect(Object.entries(st.nodeFiles)).toEqual([
      [`mailkind-control-plane:/etc/containerd/certs.d/localhost:${w.registryPort}/hosts.toml`, '[host."http://kind-registry:5000"]\n'],
    ]);
    expect(Object.keys(st.applied)).toContain('kind-mailkind|kube-public|ConfigMap|local-registry-hosting');
    // the cluster publishes exactly the configured host ports, on loopback
    const ports = (st.containers['mailkind-control-plane'] as { ports: Record<string, { HostIp: string; HostPort: string }[]> }).ports;
    expect(ports['30800/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(w.ports.kumoHttp) }]);
    expect(ports['30825/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(w.ports.sinkHttp) }]);
    // secrets: generated once, private, applied; the stack rendered by real kustomize and applied
    expect(statSync(w.secretsPath).mode & 0o777).toBe(0o600);
    const applied = Object.keys(st.applied);
    for (const name of ['kumomta-http', 'mailman-rest', 'mailman-web', 'postgres']) expect(applied).toContain(`kind-mailkind|mailkind|Secret|${name}`);
    for (const w8 of ['StatefulSet|kumomta', 'StatefulSet|kumomta-tsa', 'Deployment|smtp-sink', 'Deployment|mailman-core', 'Deployment|mailman-web', 'StatefulSet|postgres']) {
      expect(applied).toContain(`kind-mailkind|mailkind|${w8}`);
    }
    // the sink Deployment carries the built image's ID, so a rebuild (and only a rebuild) rolls it
    const sink = JSON.parse(st.applied['kind-mailkind|mailkind|Deployment|smtp-sink']!) as { spec: { template: { metadata: { annotations: Record<string, string> } } } };
    expect(sink.spec.template.metadata.annotations['mailkind.dev/sink-image-id']).toMatch(/^sha256:[0-9a-f]{64}$/);
    // waited in dependency order
    const rollouts = calls.filter((c) => c.includes(' rollout status ')).map((c) => c.split(' ')[7]);
    expect(rollouts).toEqual(['deployment/coredns', 'deployment/dragonfly', 'statefulset/kumomta-tsa', 'deployment/smtp-sink', 'statefulset/postgres', 'deployment/mailman-core', 'statefulset/kumomta', 'deployment/mailman-web']);
    // CI=true: plain timestamped lines, endpoints and the timing table, no credential values
    expect(first.stdout).toMatch(/^\d\d:\d\d:\d\d ok Kind cluster: mailkind created/m);
    expect(first.stdout).toContain(`http://127.0.0.1:${w.ports.sinkHttp}/`);
    expect(first.stdout).toMatch(/^\s+total\s+\d/m);
    const secrets = JSON.parse((await import('node:fs')).readFileSync(w.secretsPath, 'utf8')) as { secrets: { 'kumomta-http': { password: string } } };
    expect(first.stdout + first.stderr).not.toContain(secrets.secrets['kumomta-http'].password);

    // second up: the same world, nothing to change
    const before = w.calls().length;
    const second = await runEntry('up', [], w.env);
    expect(second.exitCode, second.stderr).toBe(0);
    const again = w.calls().slice(before);
    expect(mutatingCalls(again).map(line), 'a second up must not create, pull, load or write anything').toEqual([]);
    expect(second.stdout).toMatch(/Kind cluster: mailkind reused/);
    expect(second.stdout).toMatch(/Pinned images into the node: all 5 present/);
    expect(second.stdout).toMatch(/Sink image: unchanged/);
    expect(second.stdout).toMatch(/Apply manifests: \d+ objects, 0 changed/);
    expect(second.stdout).toMatch(/Namespace and Secrets: file unchanged; unchanged in cluster/);
    console.log(`second up (fakes, tsx start included): ${Math.round(second.ms)} ms, ${again.length} commands, 0 mutating`);

    // a changed sink build is loaded and rolls the sink, nothing else
    w.setState({ sinkRevision: 2 });
    const third = await runEntry('up', [], w.env);
    expect(third.exitCode, third.stderr).toBe(0);
    expect(third.stdout).toMatch(/Sink image: loaded [0-9a-f]{12}/);
    expect(third.stdout).toMatch(/Apply manifests: \d+ objects, 1 changed/);

    const down = await runEntry('down', [], w.env);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stdout).toContain('deleted kind cluster mailkind');
    expect(w.state().clusters).toEqual([]);
    const downAgain = await runEntry('down', [], w.env);
    expect(downAgain.exitCode).toBe(0);
    expect(downAgain.stdout).toContain('kind cluster mailkind was not there');
    const purge = await runEntry('down', ['--purge'], w.env);
    expect(purge.exitCode, purge.stderr).toBe(0);
    expect(purge.stdout).toContain('removed registry container kind-registry');
    expect(w.state().containers['kind-registry']).toBeUndefined();
    expect((await import('node:fs')).existsSync(w.secretsPath)).toBe(false);
  }, 120_000);
});

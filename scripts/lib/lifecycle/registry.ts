// kind's local-registry recipe (kind docs, "Local Registry"): a registry container on
// 127.0.0.1:<port>, joined to the `kind` network, a containerd hosts.toml on each node mapping
// localhost:<port> to it, and the KEP-1755 ConfigMap through which Tilt finds it.
import type { ContainerState } from '../tools/docker.js';

export interface RegistrySpec {
  name: string;
  port: number;
  image: string;
}

/** Where containerd on a node looks for the registry's mirror config. */
export function hostsTomlPath(port: number): string {
  return `/etc/containerd/certs.d/localhost:${port}/hosts.toml`;
}

/** Pulls of localhost:<port>/... from a node go to the registry container over the kind network. */
export function hostsToml(spec: RegistrySpec): string {
  return `[host."http://${spec.name}:5000"]\n`;
}

/** kube-public/local-registry-hosting (KEP-1755): `host` is where to push from the host. */
export function localRegistryConfigMap(spec: RegistrySpec): string {
  return [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: local-registry-hosting',
    '  namespace: kube-public',
    'data:',
    '  localRegistryHosting.v1: |',
    `    host: "localhost:${spec.port}"`,
    `    hostFromClusterNetwork: "${spec.name}:5000"`,
    '    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"',
    '',
  ].join('\n');
}

export type RegistryAction = 'run' | 'start' | 'keep';

export function decideRegistry(c: ContainerState): RegistryAction {
  if (!c.exists) return 'run';
  return c.running ? 'keep' : 'start';
}

/** `docker run` arguments for the registry: loopback only, restarted with Docker. */
export function registryRunArgs(spec: RegistrySpec): string[] {
  return ['--restart=always', '--publish', `127.0.0.1:${spec.port}:5000`, '--network', 'bridge', '--name', spec.name, spec.image];
}

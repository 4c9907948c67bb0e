// The desired kind cluster and the decision what to do with the one that exists (ctlptl's
// "declare, then reconcile"). Pure: the up step gathers the facts and acts on the decision.
import { parseDocument } from 'yaml';
import type { ContainerState } from '../tools/docker.js';
import { samePin } from './images.js';
import { PORT_KEYS, PORTS, type PortKey } from '../config/settings.js';

export interface PortMapping {
  containerPort: number;
  hostPort: number;
  listenAddress: string;
}

export interface DesiredCluster {
  name: string;
  nodeImage: string;
  mappings: PortMapping[];
  /** the kind config to create it with (host ports as settings say) */
  config: string;
}

/**
 * manifests/kind/cluster.yaml with each docs/contract.md host port replaced by the configured one, and
 * every node's image replaced by `nodeImage` when given (the pinned one, maybe overridden).
 */
export function desiredCluster(name: string, kindConfigText: string, ports: Record<PortKey, number>, nodeImage?: string): DesiredCluster {
  const doc = parseDocument(kindConfigText);
  const nodes = doc.toJS() as { nodes: { image: string; extraPortMappings?: PortMapping[] }[] };
  const node = nodes.nodes[0];
  if (!node) throw new Error('manifests/kind/cluster.yaml has no nodes');
  if (nodeImage) {
    nodes.nodes.forEach((_, i) => doc.setIn(['nodes', i, 'image'], nodeImage));
    node.image = nodeImage;
  }
  const byNodePort = new Map(PORT_KEYS.map((k) => [PORTS[k].nodePort, k]));
  const mappings = (node.extraPortMappings ?? []).map((m, i) => {
    const key = byNodePort.get(m.containerPort);
    const hostPort = key ? ports[key] : m.hostPort;
    doc.setIn(['nodes', 0, 'extraPortMappings', i, 'hostPort'], hostPort);
    return { containerPort: m.containerPort, hostPort, listenAddress: m.listenAddress };
  });
  doc.set('name', name);
  return { name, nodeImage: node.image, mappings, config: doc.toString() };
}

export type ClusterAction =
  | { action: 'create'; reason: string }
  | { action: 'reuse'; reason: string }
  | { action: 'start'; reason: string }
  | { action: 'refuse'; reason: string; fix: string };

/** The control-plane container kind names <cluster>-control-plane. */
export function controlPlaneName(cluster: string): string {
  return `${cluster}-control-plane`;
}

/** What differs between the existing node container and the desired cluster ([] = matches). */
export function clusterDifferences(node: ContainerState, desired: DesiredCluster): string[] {
  const diffs: string[] = [];
  if (node.image && !samePin(node.image, desired.nodeImage)) diffs.push(`node image is ${node.image}, wanted ${desired.nodeImage}`);
  for (const m of desired.mappings) {
    const bindings = node.portBindings[`${m.containerPort}/tcp`] ?? [];
    const ok = bindings.some((b) => b.HostPort === String(m.hostPort) && (b.HostIp ?? '') === m.listenAddress);
    if (!ok) {
      const have = bindings.map((b) => `${b.HostIp || '0.0.0.0'}:${b.HostPort}`).join(', ') || 'nothing';
      diffs.push(`node port ${m.containerPort} is published on ${have}, wanted ${m.listenAddress}:${m.hostPort}`);
    }
  }
  return diffs;
}

export function decideCluster(facts: { listed: boolean; node: ContainerState; desired: DesiredCluster }): ClusterAction {
  const { listed, node, desired } = facts;
  if (!listed && !node.exists) return { action: 'create', reason: 'no such cluster' };
  const diffs = node.exists ? clusterDifferences(node, desired) : ['its control-plane container is missing'];
  if (diffs.length > 0) {
    return {
      action: 'refuse',
      reason: `a kind cluster named "${desired.name}" exists with a different configuration: ${diffs.join('; ')}`,
      fix: `delete it with \`npm run down -- --cluster ${desired.name}\` (its data goes too), or use another name with --cluster`,
    };
  }
  if (!node.running) return { action: 'start', reason: 'its node container is stopped' };
  return { action: 'reuse', reason: 'exists and matches' };
}

/** Host ports a running cluster already publishes (they are "in use" by us, not a conflict). */
export function portsPublishedBy(node: ContainerState): Set<number> {
  const out = new Set<number>();
  if (!node.running) return out;
  for (const bindings of Object.values(node.portBindings)) for (const b of bindings ?? []) if (b.HostPort) out.add(Number(b.HostPort));
  return out;
}

// What `up` prints when it is done: where everything is, how to see credentials, what next.
import type { Check } from './checks.js';
import { PORT_KEYS, PORTS, profileRunsMailman, type PortKey, type Settings } from '../config/settings.js';
import { timingTable, type StepReport } from './steps.js';

const MAILMAN_PORTS: readonly PortKey[] = ['mailmanRest', 'mailmanWeb'];

export interface Endpoint {
  key: PortKey;
  what: string;
  url: string;
}

/** The host endpoints of a profile (Mailman's only in the full profile). */
export function endpoints(settings: Pick<Settings, 'host' | 'ports' | 'profile'>): Endpoint[] {
  return PORT_KEYS.filter((k) => profileRunsMailman(settings.profile) || !MAILMAN_PORTS.includes(k)).map((k) => {
    const scheme = k === 'kumoInbound' || k === 'kumoRelay' ? 'smtp' : 'http';
    const path = k === 'kumoHttp' ? '/api/inject/v1' : k === 'mailmanRest' ? '/3.1/' : k === 'mailmanWeb' ? '/postorius/lists/' : '/';
    return { key: k, what: PORTS[k].what, url: `${scheme}://${settings.host}:${settings.ports[k]}${scheme === 'http' ? path : ''}` };
  });
}

/** The NodePort Service behind each host port (manifests/base/components/nodeports.yaml). */
export const SERVICE_OF: Record<PortKey, { service: string; port: number }> = {
  kumoHttp: { service: 'kumomta-nodeport', port: 8000 },
  kumoInbound: { service: 'kumomta-nodeport', port: 2525 },
  kumoRelay: { service: 'kumomta-nodeport', port: 2587 },
  sinkHttp: { service: 'smtp-sink-nodeport', port: 8025 },
  mailmanRest: { service: 'mailman-core-nodeport', port: 8001 },
  mailmanWeb: { service: 'mailman-web-nodeport', port: 8000 },
};

/**
 * How a user reaches a cluster mailkind did not create. Nothing listens on this machine's ports
 * there (kind's port mappings are what make 127.0.0.1 URLs work), so: the NodePorts on the
 * cluster's nodes, or one `kubectl port-forward` per Service, after which the usual local URLs
 * (and `npm run e2e`) work.
 */
export function externalAccess(settings: Pick<Settings, 'context' | 'namespace' | 'ports' | 'profile' | 'host'>): string[] {
  const eps = endpoints({ ...settings, host: '127.0.0.1' });
  const w = Math.max(...eps.map((e) => e.what.length));
  const forwards = new Map<string, string[]>();
  for (const e of eps) {
    const s = SERVICE_OF[e.key];
    forwards.set(s.service, [...(forwards.get(s.service) ?? []), `${settings.ports[e.key]}:${s.port}`]);
  }
  return [
    `  on the cluster's nodes (NodePort Services; reachable where the nodes are):`,
    ...eps.map((e) => `    ${e.what.padEnd(w)}  <node address>:${PORTS[e.key].nodePort}  (service/${SERVICE_OF[e.key].service})`),
    '',
    '  from this machine, forward the ports (each command runs until Ctrl-C):',
    ...[...forwards].map(([svc, pairs]) => `    kubectl --context ${settings.context} --namespace ${settings.namespace} port-forward service/${svc} ${pairs.join(' ')}`),
    '  then:',
    ...eps.map((e) => `    ${e.what.padEnd(w)}  ${e.url}`),
  ];
}

export function upSummary(settings: Settings, reports: readonly StepReport[], warnings: readonly Check[]): string[] {
  const eps = endpoints(settings);
  const w = Math.max(...eps.map((e) => e.what.length));
  return [
    '',
    `mailkind is up: profile ${settings.profile}, context ${settings.context}, namespace ${settings.namespace}`,
    '',
    ...(settings.external ? externalAccess(settings) : eps.map((e) => `  ${e.what.padEnd(w)}  ${e.url}`)),
    '',
    `  credentials     npm run status -- --show-secrets   (stored in ${settings.paths.secrets}, mode 0600)`,
    '  next            npm run e2e | npm run status | npm run down',
    ...(warnings.length ? ['', ...warnings.map((c) => `  warning: ${c.title}: ${c.detail}${c.fix ? ` (fix: ${c.fix})` : ''}`)] : []),
    '',
    ...timingTable(reports).map((l) => `  ${l}`),
  ];
}

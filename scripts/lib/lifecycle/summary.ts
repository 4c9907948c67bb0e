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

export function upSummary(settings: Settings, reports: readonly StepReport[], warnings: readonly Check[]): string[] {
  const eps = endpoints(settings);
  const w = Math.max(...eps.map((e) => e.what.length));
  return [
    '',
    `mailkind is up: profile ${settings.profile}, context ${settings.context}, namespace ${settings.namespace}`,
    '',
    ...eps.map((e) => `  ${e.what.padEnd(w)}  ${e.url}`),
    '',
    `  credentials     npm run status -- --show-secrets   (stored in ${settings.paths.secrets}, mode 0600)`,
    '  next            npm run e2e | npm run status | npm run down',
    ...(warnings.length ? ['', ...warnings.map((c) => `  warning: ${c.title}: ${c.detail}${c.fix ? ` (fix: ${c.fix})` : ''}`)] : []),
    '',
    ...timingTable(reports).map((l) => `  ${l}`),
  ];
}

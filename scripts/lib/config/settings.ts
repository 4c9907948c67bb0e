// Names, host ports and paths every script agrees on (docs/contract.md "Names", "Host ports"). The one
// place they live in code: defaults here, overridden by environment variables, then by flags.
// Pure: callers pass the environment and the flags in.
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest folder at or above `from` that holds versions.json: the repository root. */
export function findRepoRoot(from: string): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'versions.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no versions.json above ${from}: not inside a mailkind checkout`);
  }
}

/** The repository root, found from this module's place (scripts/lib/config/, or a test bundle of an entry point). */
export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

export const PORT_KEYS = ['kumoHttp', 'kumoInbound', 'kumoRelay', 'sinkHttp', 'mailmanRest', 'mailmanWeb'] as const;
export type PortKey = (typeof PORT_KEYS)[number];

/** docs/contract.md host ports, with what each goes to and its NodePort (manifests/base/components/nodeports.yaml). */
export const PORTS: Record<PortKey, { host: number; nodePort: number; what: string; env: string }> = {
  kumoHttp: { host: 8000, nodePort: 30800, what: 'kumomta HTTP (inject API)', env: 'MAILKIND_PORT_KUMO_HTTP' },
  kumoInbound: { host: 2525, nodePort: 30525, what: 'kumomta SMTP inbound (list domain only)', env: 'MAILKIND_PORT_KUMO_INBOUND' },
  kumoRelay: { host: 2587, nodePort: 30587, what: 'kumomta SMTP relay', env: 'MAILKIND_PORT_KUMO_RELAY' },
  sinkHttp: { host: 8025, nodePort: 30825, what: 'smtp-sink HTTP API and dashboard', env: 'MAILKIND_PORT_SINK_HTTP' },
  mailmanRest: { host: 8001, nodePort: 30801, what: 'mailman-core REST', env: 'MAILKIND_PORT_MAILMAN_REST' },
  mailmanWeb: { host: 8080, nodePort: 30880, what: 'mailman-web (Postorius)', env: 'MAILKIND_PORT_MAILMAN_WEB' },
};

export const PROFILES = ['full', 'minimal'] as const;
export type Profile = (typeof PROFILES)[number];

/** Which components a profile runs (manifests/profiles/minimal drops Mailman and postgres). */
export function profileRunsMailman(profile: Profile): boolean {
  return profile === 'full';
}

export interface Settings {
  /** kind cluster name */
  cluster: string;
  /** kubeconfig context; kind-<cluster> unless targeting another cluster */
  context: string;
  /** true when --context/MAILKIND_CONTEXT names a cluster mailkind did not create (no kind steps) */
  external: boolean;
  namespace: string;
  profile: Profile;
  /** where the host ports listen (127.0.0.1, or a remote host for e2e against staging) */
  host: string;
  ports: Record<PortKey, number>;
  /** kind's local registry (kind-with-registry recipe): container name and host port (not 5000: macOS AirPlay) */
  registry: { name: string; port: number };
  paths: {
    root: string;
    /** git-ignored local state: secrets, downloaded tools, generated overlays */
    state: string;
    secrets: string;
    bin: string;
    /** the kustomization to apply for the profile */
    manifests: string;
    kindConfig: string;
  };
}

export interface SettingsFlags {
  cluster?: string;
  context?: string;
  namespace?: string;
  profile?: string;
  host?: string;
  ports?: Partial<Record<PortKey, number>>;
}

export class SettingsError extends Error {
  override name = 'SettingsError';
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function checkName(what: string, value: string, source: string): string {
  if (!DNS_LABEL.test(value)) {
    throw new SettingsError(`${what} "${value}" (${source}) is not a valid name: lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit`);
  }
  return value;
}

function parsePort(value: string, source: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new SettingsError(`${source}="${value}" is not a port number (1-65535)`);
  return n;
}

/** Defaults <- environment <- flags. Throws SettingsError with the offending source named. */
export function resolveSettings(env: NodeJS.ProcessEnv = {}, flags: SettingsFlags = {}, root: string = REPO_ROOT): Settings {
  const pick = (flag: string | undefined, envName: string, fallback: string): [string, string] => {
    if (flag !== undefined) return [flag, 'flag'];
    const e = env[envName];
    if (e !== undefined && e !== '') return [e, envName];
    return [fallback, 'default'];
  };
  const [cluster, clusterSrc] = pick(flags.cluster, 'MAILKIND_CLUSTER', 'mailkind');
  checkName('cluster name', cluster, clusterSrc);
  const [namespace, nsSrc] = pick(flags.namespace, 'MAILKIND_NAMESPACE', 'mailkind');
  checkName('namespace', namespace, nsSrc);
  const [context] = pick(flags.context, 'MAILKIND_CONTEXT', `kind-${cluster}`);
  if (context.trim() === '') throw new SettingsError('the kube context is empty');
  const [profileRaw, profileSrc] = pick(flags.profile, 'MAILKIND_PROFILE', 'full');
  if (!(PROFILES as readonly string[]).includes(profileRaw)) {
    throw new SettingsError(`profile "${profileRaw}" (${profileSrc}) is unknown: use ${PROFILES.join(' or ')}`);
  }
  const profile = profileRaw as Profile;
  const [host] = pick(flags.host, 'MAILKIND_HOST', '127.0.0.1');

  const ports = {} as Record<PortKey, number>;
  for (const key of PORT_KEYS) {
    const flag = flags.ports?.[key];
    const e = env[PORTS[key].env];
    ports[key] = flag ?? (e !== undefined && e !== '' ? parsePort(e, PORTS[key].env) : PORTS[key].host);
  }
  const seen = new Map<number, PortKey>();
  for (const key of PORT_KEYS) {
    const other = seen.get(ports[key]);
    if (other) throw new SettingsError(`host port ${ports[key]} is given to both ${other} and ${key}: give each its own (${PORTS[key].env})`);
    seen.set(ports[key], key);
  }

  const [stateRaw] = pick(undefined, 'MAILKIND_STATE_DIR', '.mailkind');
  const state = isAbsolute(stateRaw) ? stateRaw : join(root, stateRaw);
  const [registryPortRaw] = pick(undefined, 'MAILKIND_REGISTRY_PORT', '5001');
  const registryPort = parsePort(registryPortRaw, 'MAILKIND_REGISTRY_PORT');
  const clash = seen.get(registryPort);
  if (clash) throw new SettingsError(`MAILKIND_REGISTRY_PORT ${registryPort} is also the ${clash} host port: give the registry its own`);
  return {
    cluster,
    context,
    external: context !== `kind-${cluster}`,
    namespace,
    profile,
    host,
    ports,
    registry: { name: 'kind-registry', port: registryPort },
    paths: {
      root,
      state,
      secrets: join(state, 'secrets.json'),
      bin: join(state, 'bin'),
      manifests: profile === 'full' ? join(root, 'manifests') : join(root, 'manifests', 'profiles', profile),
      kindConfig: join(root, 'manifests', 'kind', 'cluster.yaml'),
    },
  };
}

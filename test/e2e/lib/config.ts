// The e2e suite's configuration: names, host and ports from scripts/lib/config/settings.ts (docs/contract.md),
// credentials from the secrets file (or the cluster's Secrets, see preflight.ts), sizes and
// per-step timeouts. Every value can be overridden by an environment variable, so the suite also
// runs against a remote cluster or staging. Pure: the environment and a file reader are passed in.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSecretsFile, SecretsError, type PartialSecrets } from '../../../scripts/lib/secrets/generate.js';
import { profileRunsMailman, resolveSettings, SettingsError, type Settings } from '../../../scripts/lib/config/settings.js';

/** Where the e2e JUnit report goes (vitest.e2e.config.ts and a failed preflight write it). */
export const E2E_JUNIT = process.env.MAILKIND_E2E_JUNIT || 'reports/junit-e2e.xml';

/** A configuration problem: printed as one line, no stack trace. */
export class E2eConfigError extends Error {
  override name = 'E2eConfigError';
}

/** Per-step deadlines (ms); env MAILKIND_E2E_TIMEOUT_<NAME>_MS, e.g. MAILKIND_E2E_TIMEOUT_DELIVER_MS. */
export const TIMEOUT_DEFAULTS = {
  /** the whole preflight, as the issue asks */
  preflight: 10_000,
  /** one kubectl call */
  kubectl: 20_000,
  /** one HTTP injection request */
  inject: 30_000,
  /** mail from injection to the sink, no faults */
  deliver: 60_000,
  /** tempfail-2: attempts at about 0, 5 and 15 s (init.lua retry_interval 5s, capped at 10s) */
  retry: 90_000,
  /** a permanent failure showing up as a Bounce record in kumod's log */
  bounce: 60_000,
  /** Mailman: list post to every member's copy at the sink */
  mailman: 90_000,
  /** the throttled batch (N messages at 10/s) */
  throttle: 180_000,
  /** kumomta-0 deleted until it is Ready again (preStop 10 s, spool scan, probes). With redeliver
   * it must stay under the policy's max_age of 5 minutes, or kumod may expire what it spooled */
  podRestart: 150_000,
  /** every spooled message delivered once the fault is lifted (retries every 10 s) */
  redeliver: 120_000,
  /** the throughput run, injection and delivery */
  throughput: 600_000,
  /** after the expected count arrived: how long no further message of the run may come (a late
   * duplicate from a retry or a redelivery would show up here) */
  quiet: 5_000,
  /** kumod's records of a finished message at the sink's journey API (the hook batches for <= 1 s,
   * retries a failed POST every 5-20 s) */
  journey: 30_000,
} as const;
export type StepName = keyof typeof TIMEOUT_DEFAULTS;

/** Scenario sizes; env MAILKIND_E2E_<NAME>, e.g. MAILKIND_E2E_THROUGHPUT_MESSAGES. */
export const SIZE_DEFAULTS = {
  httpMessages: 100,
  httpBatchSize: 25,
  listMembers: 5,
  throttleMessages: 60,
  durabilityMessages: 20,
  throughputMessages: 1_000,
  throughputConcurrency: 8,
  throughputBatchSize: 1,
} as const;
export type SizeName = keyof typeof SIZE_DEFAULTS;

/**
 * What the stack's policy promises (manifests/base/policy/kumomta/init.lua); the scenarios check
 * these numbers, so a policy change shows up here too.
 */
export const POLICY = {
  listDomain: 'lists.mailkind.test',
  /** any other domain goes to the sink */
  sinkDomain: 'e2e.mailkind.test',
  throttledDomain: 'throttled.mailkind.test',
  /** THROTTLED_RATE '10/s', burst 10 */
  throttleRatePerSecond: 10,
  throttleBurst: 10,
  /** RETRY_INTERVAL and MAX_RETRY_INTERVAL */
  retryIntervalMs: 5_000,
  maxRetryIntervalMs: 10_000,
  /** MAX_AGE: a durability run must finish well within it */
  maxAgeMs: 5 * 60_000,
} as const;

/** The throttle check's tolerance, stated: 20 % over the rate, plus 2 messages of jitter. */
export const THROTTLE_TOLERANCE = { rateFactor: 1.2, extraMessages: 2 } as const;

export interface Credentials {
  username: string;
  password: string;
  /** where they came from, for messages (never the values) */
  source: string;
}

export interface E2eConfig {
  context: string;
  namespace: string;
  profile: Settings['profile'];
  mailman: boolean;
  kubectl: string;
  smtpHost: string;
  urls: { kumo: string; sink: string; mailman: string };
  ports: { kumoInbound: number; kumoRelay: number; kumoHttp: number; sinkHttp: number; mailmanRest: number };
  kumoAuth: Credentials | null;
  mailmanAuth: Credentials | null;
  /** where credentials were looked for, for the "not found" message */
  secretsFile: string;
  timeouts: Record<StepName, number>;
  sizes: Record<SizeName, number>;
  reportsDir: string;
  /** keep lists and fault rules after a run, for debugging */
  keep: boolean;
}

const envName = (prefix: string, key: string, suffix = ''): string =>
  `${prefix}${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}${suffix}`;

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new E2eConfigError(`${name}="${raw}" is not a positive whole number`);
  return Number(raw);
}

export function timeoutEnvName(step: StepName): string {
  return envName('MAILKIND_E2E_TIMEOUT_', step, '_MS');
}

export function sizeEnvName(size: SizeName): string {
  return envName('MAILKIND_E2E_', size);
}

function url(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  try {
    const u = new URL(v);
    if (u.username || u.password) throw new E2eConfigError(`${name} must not contain credentials; use the *_USER / *_PASSWORD variables`);
  } catch (e) {
    if (e instanceof E2eConfigError) throw e;
    throw new E2eConfigError(`${name}="${v}" is not a URL`);
  }
  return v.replace(/\/+$/, '');
}

/** Credentials from the two env variables, or both absent; one without the other is a mistake. */
function envCredentials(env: NodeJS.ProcessEnv, user: string, password: string): Credentials | null {
  const u = env[user];
  const p = env[password];
  if (!u && !p) return null;
  if (!u || !p) throw new E2eConfigError(`set both ${user} and ${password}, or neither`);
  return { username: u, password: p, source: `${user}/${password}` };
}

export type ReadFile = (path: string) => string | null;

const readIfExists: ReadFile = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new E2eConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
};

/** Defaults <- settings.ts (and its env) <- MAILKIND_E2E_* env; credentials env <- secrets file. */
export function resolveE2eConfig(env: NodeJS.ProcessEnv = process.env, readFile: ReadFile = readIfExists): E2eConfig {
  let settings: Settings;
  try {
    settings = resolveSettings(env);
  } catch (e) {
    if (e instanceof SettingsError) throw new E2eConfigError(e.message);
    throw e;
  }
  const host = settings.host;
  const p = settings.ports;

  let fileSecrets: PartialSecrets | null = null;
  const text = readFile(settings.paths.secrets);
  if (text !== null) {
    try {
      fileSecrets = parseSecretsFile(text);
    } catch (e) {
      // SecretsError messages name fields, never values
      if (e instanceof SecretsError) throw new E2eConfigError(`${settings.paths.secrets}: ${e.message}`);
      throw e;
    }
  }
  const fromFile = (secret: 'kumomta-http' | 'mailman-rest'): Credentials | null => {
    const s = fileSecrets?.[secret];
    return s?.username && s.password ? { username: s.username, password: s.password, source: settings.paths.secrets } : null;
  };

  const timeouts = {} as Record<StepName, number>;
  for (const step of Object.keys(TIMEOUT_DEFAULTS) as StepName[]) timeouts[step] = positiveInt(env, timeoutEnvName(step), TIMEOUT_DEFAULTS[step]);
  const sizes = {} as Record<SizeName, number>;
  for (const size of Object.keys(SIZE_DEFAULTS) as SizeName[]) sizes[size] = positiveInt(env, sizeEnvName(size), SIZE_DEFAULTS[size]);

  const mailman = profileRunsMailman(settings.profile) && env.MAILKIND_E2E_MAILMAN !== '0';
  return {
    context: settings.context,
    namespace: settings.namespace,
    profile: settings.profile,
    mailman,
    kubectl: env.MAILKIND_KUBECTL || 'kubectl',
    smtpHost: env.MAILKIND_E2E_SMTP_HOST || host,
    urls: {
      kumo: url(env, 'MAILKIND_E2E_KUMO_URL', `http://${host}:${p.kumoHttp}`),
      sink: url(env, 'MAILKIND_E2E_SINK_URL', `http://${host}:${p.sinkHttp}`),
      mailman: url(env, 'MAILKIND_E2E_MAILMAN_URL', `http://${host}:${p.mailmanRest}`),
    },
    ports: { kumoInbound: p.kumoInbound, kumoRelay: p.kumoRelay, kumoHttp: p.kumoHttp, sinkHttp: p.sinkHttp, mailmanRest: p.mailmanRest },
    kumoAuth: envCredentials(env, 'MAILKIND_KUMO_HTTP_USER', 'MAILKIND_KUMO_HTTP_PASSWORD') ?? fromFile('kumomta-http'),
    mailmanAuth: envCredentials(env, 'MAILKIND_MAILMAN_REST_USER', 'MAILKIND_MAILMAN_REST_PASSWORD') ?? fromFile('mailman-rest'),
    secretsFile: settings.paths.secrets,
    timeouts,
    sizes,
    reportsDir: env.MAILKIND_E2E_REPORTS_DIR || join(settings.paths.root, 'reports'),
    keep: env.MAILKIND_E2E_KEEP === '1',
  };
}

/** The config as it may be printed: credentials replaced by where they came from. */
export function describeConfig(c: E2eConfig): string {
  // null: neither the MAILKIND_*_USER/_PASSWORD variables nor the secrets file had them; the
  // preflight then reads the cluster's Secret (test/e2e/lib/preflight.ts)
  const cred = (x: Credentials | null, secret: string): string =>
    x ? `user ${x.username} (from ${x.source})` : `credentials: none in the environment or ${c.secretsFile}, read from Secret ${secret} at preflight`;
  return [
    `context ${c.context}, namespace ${c.namespace}, profile ${c.profile}`,
    `KumoMTA ${c.urls.kumo} (${cred(c.kumoAuth, 'kumomta-http')}), SMTP ${c.smtpHost}:${c.ports.kumoInbound}/${c.ports.kumoRelay}`,
    `sink ${c.urls.sink}`,
    c.mailman ? `Mailman REST ${c.urls.mailman} (${cred(c.mailmanAuth, 'mailman-rest')})` : 'Mailman: not in this profile',
  ].join('\n');
}

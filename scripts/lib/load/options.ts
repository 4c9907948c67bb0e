// `npm run load` flags -> a checked LoadConfig. Defaults for the target come from settings.ts
// (host and host ports, env overrides); every bad value is a UsageError (exit 2) naming the flag.
import { Command, Option } from 'commander';
import { UsageError } from '../cli/errors.js';
import { parseCommand } from '../cli/common.js';
import { INJECT_PATH } from '../clients/kumo-inject.js';
import { resolveSettings } from '../config/settings.js';
import { defaultRunId, RUN_ID } from './message.js';
import { DEFAULT_MIX, DEFAULT_MIX_NOTES, isAddress, MixError, parseMix, type MixEntry } from './mix.js';
import { defaultBurst } from './pacer.js';

export type LoadMode = 'smtp' | 'http';

export type Target =
  | { kind: 'smtp'; host: string; port: number; label: string }
  /** base: what the inject client appends INJECT_PATH to */
  | { kind: 'http'; url: URL; base: string; label: string };

export interface LoadConfig {
  mode: LoadMode;
  target: Target;
  /** true when --target was not given: the cluster's port from settings */
  defaultTarget: boolean;
  /** sends per second; null with --max */
  rate: number | null;
  burst: number;
  concurrency: number;
  /** exactly one of count and durationMs is set */
  count: number | null;
  durationMs: number | null;
  mix: MixEntry[];
  recipientsPerMessage: number;
  run: string;
  json: boolean;
  size: number;
  starttls: boolean;
  from: string;
  seed: number;
  timeoutMs: number;
  /** the generated credentials (HTTP mode) */
  secretsPath: string;
}

export interface LoadFlags {
  mode: LoadMode;
  target?: string;
  rate?: string;
  max?: boolean;
  concurrency: string;
  count?: string;
  duration?: string;
  mix: string;
  recipientsPerMessage: string;
  run?: string;
  json?: boolean;
  size: string;
  starttls?: boolean;
  from: string;
  seed?: string;
  timeout: string;
}

export const DEFAULTS = { rate: '100/s', concurrency: '10', count: 1000, size: '1024', recipientsPerMessage: '1', from: 'load@mailkind.test', timeout: '30s' };
export const LIMITS = { rate: 1_000_000, concurrency: 1000, count: 100_000_000, recipientsPerMessage: 1000, size: 50 * 1024 * 1024, durationMs: 7 * 24 * 3600_000 };

export function loadCommand(): Command {
  const mixHelp = Object.entries(DEFAULT_MIX_NOTES)
    .map(([k, v]) => `    ${k.padEnd(26)} ${v}`)
    .join('\n');
  return new Command('load')
    .description('Send mail to the stack (or a local sink) at a rate, with a recipient mix including fault addresses, and report what happened.')
    .addOption(new Option('--mode <mode>', 'smtp: the KumoMTA relay port; http: KumoMTA\'s inject API').choices(['smtp', 'http']).default('smtp'))
    .option('--target <host:port|url>', 'where to send (default: the cluster\'s relay port, or the inject API with --mode http)')
    .option('--rate <N/s>', `messages per second (default ${DEFAULTS.rate}); also N/m`)
    .option('--max', 'as fast as the target takes them (no rate limit)')
    .option('--concurrency <C>', 'connections (SMTP) or requests (HTTP) in parallel', DEFAULTS.concurrency)
    .option('--count <N>', `messages to send (default ${DEFAULTS.count} unless --duration)`)
    .option('--duration <time>', 'send for this long instead of a count: 30s, 2m, 500ms')
    .option('--mix <domain=weight,...>', 'recipient mix: domains (random local parts) and exact addresses (sink fault addresses)', DEFAULT_MIX)
    .option('--recipients-per-message <R>', 'recipients of each message (SMTP: RCPTs; HTTP: recipients per inject request)', DEFAULTS.recipientsPerMessage)
    .option('--run <id>', 'run id for the X-Mailkind-Run header (default load-<time>-<random>)')
    .option('--json', 'print only the JSON summary')
    .option('--size <bytes>', 'message size, headers included: 1024, 10k, 1m', DEFAULTS.size)
    .option('--starttls', 'SMTP: require STARTTLS before sending')
    .option('--from <address>', 'envelope sender and From:', DEFAULTS.from)
    .option('--seed <n>', 'seed of the recipient mix (same seed, same recipients)')
    .option('--timeout <time>', 'how long to wait for a connection or a reply', DEFAULTS.timeout)
    .addHelpText(
      'after',
      `
Default mix (${DEFAULT_MIX}):
${mixHelp}
A local part asks the sink for a fault (docs/sink.md): tempfail, permfail,
tempfail-<n>, slow-<ms>, disconnect, code-<nnn>; prefix rcpt- to refuse at RCPT instead of DATA.

Examples:
  npm run load
      1000 messages at 100/s to the cluster's relay
  npm run load -- --mode http --duration 1m --rate 50
      the inject API, recipients batched per request
  npm run load -- --target 127.0.0.1:2526 --max --count 20000 --concurrency 20
      a local sink (npm run sink -- --smtp-port 2526 --http-port 8026)

Environment: MAILKIND_HOST, MAILKIND_PORT_KUMO_RELAY, MAILKIND_PORT_KUMO_HTTP (default targets),
MAILKIND_STATE_DIR (the secrets file), CI=true (plain progress lines).
Exit codes: 0 done, 1 failed (the cause and a fix are printed), 2 bad usage, 130 interrupted.`,
    );
}

function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) throw new UsageError(`${flag} ${value}: give a whole number from ${min} to ${max}`, `see \`npm run load -- --help\``);
  return n;
}

/** "100", "100/s", "6000/m" -> per second. */
export function parseRate(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|m|min))?\s*$/.exec(value);
  const n = m ? Number(m[1]) / (m[2]?.startsWith('m') ? 60 : 1) : NaN;
  if (!m || !(n > 0) || n > LIMITS.rate) throw new UsageError(`--rate ${value}: give messages per second, e.g. 100 or 100/s (or 600/m), more than 0 and at most ${LIMITS.rate}`, 'or use --max for no limit');
  return n;
}

/** "30s", "2m", "500ms", "1h", "1m30s" -> ms. */
export function parseDuration(flag: string, value: string): number {
  const parts = /^\s*(?:(\d+)h)?\s*(?:(\d+)m(?!s))?\s*(?:(\d+(?:\.\d+)?)s)?\s*(?:(\d+)ms)?\s*$/.exec(value);
  const ms = parts && parts.slice(1).some((p) => p !== undefined) ? Number(parts[1] ?? 0) * 3600_000 + Number(parts[2] ?? 0) * 60_000 + Number(parts[3] ?? 0) * 1000 + Number(parts[4] ?? 0) : NaN;
  if (!(ms > 0) || ms > LIMITS.durationMs) throw new UsageError(`${flag} ${value}: give a time like 30s, 2m, 1m30s or 500ms`, `see \`npm run load -- --help\``);
  return ms;
}

/** "1024", "10k", "10KiB", "1m" -> bytes (k and m are 1024-based). */
export function parseSize(value: string): number {
  const m = /^\s*(\d+)\s*(k|kb|kib|m|mb|mib)?\s*$/i.exec(value);
  const unit = m?.[2]?.[0]?.toLowerCase();
  const n = m ? Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1) : NaN;
  if (!(n >= 300) || n > LIMITS.size) throw new UsageError(`--size ${value}: give bytes from 300 (the headers) to 50m, e.g. 1024 or 10k`, `see \`npm run load -- --help\``);
  return n;
}

/** host:port, [v6]:port, host (port 25) or smtp://host:port. */
export function parseSmtpTarget(value: string): Target & { kind: 'smtp' } {
  const text = value.trim().replace(/^smtp:\/\//i, '').replace(/\/$/, '');
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:[\]/\s]+))(?::(\d+))?$/i.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = m?.[3] === undefined ? 25 : Number(m[3]);
  if (!m || !host || !(port >= 1 && port <= 65535)) {
    throw new UsageError(`--target ${value}: give the SMTP server as host:port, e.g. 127.0.0.1:2525`, 'a local sink: `npm run sink` listens on 127.0.0.1:2525');
  }
  return { kind: 'smtp', host, port, label: `${host.includes(':') ? `[${host}]` : host}:${port}` };
}

/** http(s)://host:port, with or without KumoMTA's inject path, or host:port. */
export function parseHttpTarget(value: string): Target & { kind: 'http' } {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim()) ? value.trim() : `http://${value.trim()}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`--target ${value}: give the inject API as a URL, e.g. http://127.0.0.1:8000`, `see \`npm run load -- --help\``);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--target ${value}: HTTP mode needs an http:// or https:// URL`);
  if (url.username || url.password) throw new UsageError(`--target ${value}: leave credentials out of the URL`, 'they come from the secrets file (`npm run status -- --show-secrets`)');
  if (url.search || url.hash) throw new UsageError(`--target ${value}: no query or fragment, please`);
  const prefix = url.pathname.endsWith(INJECT_PATH) ? url.pathname.slice(0, -INJECT_PATH.length) : url.pathname;
  const base = `${url.origin}${prefix.replace(/\/+$/, '')}`;
  return { kind: 'http', url: new URL(`${base}${INJECT_PATH}`), base, label: `${base}${INJECT_PATH}` };
}

/** Parses argv (after `npm run load --`); throws UsageError, or HelpShown after printing --help. */
export function parseLoadArgs(argv: readonly string[], env: NodeJS.ProcessEnv, random: () => number = Math.random): LoadConfig {
  const cmd = loadCommand();
  parseCommand(cmd, argv);
  return configFromFlags(cmd.opts<LoadFlags>(), env, random);
}

export function configFromFlags(flags: LoadFlags, env: NodeJS.ProcessEnv, random: () => number = Math.random): LoadConfig {
  const settings = resolveSettings(env);
  const mode = flags.mode;
  if (flags.max && flags.rate !== undefined) throw new UsageError('--rate and --max contradict each other: give one', `see \`npm run load -- --help\``);
  if (flags.count !== undefined && flags.duration !== undefined) throw new UsageError('--count and --duration contradict each other: give one', `see \`npm run load -- --help\``);
  if (flags.starttls && mode === 'http') throw new UsageError('--starttls is for --mode smtp', 'for HTTPS give an https:// --target');
  const rate = flags.max ? null : parseRate(flags.rate ?? DEFAULTS.rate);
  const concurrency = wholeNumber('--concurrency', flags.concurrency, 1, LIMITS.concurrency);
  const durationMs = flags.duration === undefined ? null : parseDuration('--duration', flags.duration);
  const count = durationMs !== null ? null : flags.count === undefined ? DEFAULTS.count : wholeNumber('--count', flags.count, 1, LIMITS.count);
  const recipientsPerMessage = wholeNumber('--recipients-per-message', flags.recipientsPerMessage, 1, LIMITS.recipientsPerMessage);
  let mix: MixEntry[];
  try {
    mix = parseMix(flags.mix);
  } catch (e) {
    if (e instanceof MixError) throw new UsageError(`--mix: ${e.message}`, 'write it as domain=weight,local@domain=weight (e.g. example.test=90,permfail@example.test=10)');
    throw e;
  }
  const run = flags.run ?? defaultRunId();
  if (!RUN_ID.test(run)) throw new UsageError(`--run ${run}: letters, digits, ".", "_" and "-", at most 64, starting with a letter or digit`);
  const from = flags.from.trim().toLowerCase();
  if (!isAddress(from)) throw new UsageError(`--from ${flags.from}: not an address (local@domain)`);
  const seed = flags.seed === undefined ? Math.floor(random() * 2 ** 32) : wholeNumber('--seed', flags.seed, 0, 2 ** 32 - 1);
  const defaultTarget = flags.target === undefined;
  const target =
    mode === 'smtp'
      ? parseSmtpTarget(flags.target ?? `${settings.host}:${settings.ports.kumoRelay}`)
      : parseHttpTarget(flags.target ?? `http://${settings.host}:${settings.ports.kumoHttp}`);
  return {
    mode,
    target,
    defaultTarget,
    rate,
    burst: rate === null ? 1 : defaultBurst(rate),
    concurrency,
    count,
    durationMs,
    mix,
    recipientsPerMessage,
    run,
    json: Boolean(flags.json),
    size: parseSize(flags.size),
    starttls: Boolean(flags.starttls),
    from,
    seed,
    timeoutMs: parseDuration('--timeout', flags.timeout),
    secretsPath: settings.paths.secrets,
  };
}

// Command line and environment -> SinkConfig. Every flag has an env twin (SINK_*), as docs/contract.md fixes.
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_CONFIG, type SinkConfig } from './config.js';

export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 0 || n > 65535) {
    throw new InvalidArgumentError(`"${value}" is not a port number (0-65535; 0 picks a free port).`);
  }
  return n;
}

export function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1) {
    throw new InvalidArgumentError(`"${value}" is not a positive whole number.`);
  }
  return n;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** "25MiB", "512k", "1048576" -> bytes. */
export function parseBytes(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new InvalidArgumentError(`"${value}" is not a size (examples: 1048576, 512k, 25MiB).`);
  }
  const n = Math.floor(Number(m[1]) * unit);
  if (n < 1) throw new InvalidArgumentError(`"${value}" must be at least one byte.`);
  return n;
}

export function parseBool(value: string | boolean): boolean {
  if (typeof value === 'boolean') return value; // the flag given alone: commander passes its preset
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw new InvalidArgumentError(`"${value}" is not a boolean (true/false, yes/no, 1/0).`);
}

function boolOption(flags: string, description: string, env: string, fallback: boolean): Option {
  return new Option(`${flags} [bool]`, description).preset(true).argParser(parseBool).env(env).default(fallback);
}

export function buildCli(): Command {
  const d = DEFAULT_CONFIG;
  return new Command('smtp-sink')
    .description('The recording, fault-injecting SMTP sink of mailkind.')
    .addHelpText(
      'after',
      `
Faults by recipient local part ("+tag" ignored, e.g. tempfail-2+run7@example.test):
  tempfail  permfail  tempfail-<n>  slow-<ms>  disconnect  code-<400..599>
  acting after DATA; prefix rcpt- (rcpt-permfail@...) to act at RCPT instead.
Runtime fault rules: PUT /api/faults (docs/sink.md). API and dashboard: http://<host>:<http-port>/`,
    )
    .addOption(new Option('--host <address>', 'address both listeners bind to').env('SINK_HOST').default(d.host))
    .addOption(new Option('--smtp-port <port>', 'SMTP port').env('SINK_SMTP_PORT').argParser(parsePort).default(d.smtpPort))
    .addOption(new Option('--http-port <port>', 'HTTP API and dashboard port').env('SINK_HTTP_PORT').argParser(parsePort).default(d.httpPort))
    .addOption(new Option('--hostname <name>', 'name in the SMTP greeting').env('SINK_HOSTNAME').default(d.hostname))
    .addOption(new Option('--max-messages <n>', 'messages kept in the ring buffer').env('SINK_MAX_MESSAGES').argParser(parseCount).default(d.maxMessages))
    .addOption(new Option('--max-attempts <n>', 'attempts kept in the ring buffer').env('SINK_MAX_ATTEMPTS').argParser(parseCount).default(d.maxAttempts))
    .addOption(new Option('--max-journey-records <n>', 'kumod log records kept for journeys').env('SINK_MAX_JOURNEY_RECORDS').argParser(parseCount).default(d.maxJourneyRecords))
    .addOption(new Option('--max-size <bytes>', 'SIZE limit; larger messages get 552').env('SINK_MAX_SIZE').argParser(parseBytes).default(d.maxSize, '25MiB'))
    .addOption(new Option('--max-recipients <n>', 'recipients per transaction; more get 452').env('SINK_MAX_RECIPIENTS').argParser(parseCount).default(d.maxRecipients))
    .addOption(new Option('--max-clients <n>', 'concurrent connections; more get 421').env('SINK_MAX_CLIENTS').argParser(parseCount).default(d.maxClients))
    .addOption(new Option('--idle-timeout-ms <ms>', 'disconnect a silent client after this').env('SINK_IDLE_TIMEOUT_MS').argParser(parseCount).default(d.idleTimeoutMs))
    .addOption(boolOption('--keep-bodies', 'keep raw messages (GET /api/messages/:id/raw)', 'SINK_KEEP_BODIES', d.keepBodies))
    .addOption(new Option('--body-budget <bytes>', 'bytes of raw messages kept, oldest dropped first').env('SINK_BODY_BUDGET').argParser(parseBytes).default(d.bodyBudget, '64MiB'))
    .addOption(boolOption('--starttls', 'offer STARTTLS', 'SINK_STARTTLS', d.starttls))
    .addOption(new Option('--no-starttls', 'do not offer STARTTLS'))
    .addOption(new Option('--tls-cert <file>', 'PEM certificate (default: self-signed, generated at start)').env('SINK_TLS_CERT'))
    .addOption(new Option('--tls-key <file>', 'PEM private key for --tls-cert').env('SINK_TLS_KEY'))
    .addOption(new Option('--faults <file>', 'JSON file of initial fault rules: {"seed":1,"rules":[...]}').env('SINK_FAULTS_FILE'))
    .showHelpAfterError('(run with --help for every option)')
    .allowExcessArguments(false)
    // bad usage exits 2, like every other mailkind command (commander's default is 1); --help stays 0
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
}

/** What commander yields: the config's fields, with --faults naming faultsFile. */
type CliOptions = Omit<SinkConfig, 'tlsCert' | 'tlsKey' | 'faultsFile'> & { tlsCert?: string; tlsKey?: string; faults?: string };

/** Parses argv (without node and script) into a config; commander reports bad input and exits. */
export function configFromArgs(argv: string[], program: Command = buildCli()): SinkConfig {
  program.parse(argv, { from: 'user' });
  const o = program.opts<CliOptions>();
  if (Boolean(o.tlsCert) !== Boolean(o.tlsKey)) {
    program.error('error: --tls-cert and --tls-key go together (or neither, for a generated self-signed certificate).');
  }
  if (o.smtpPort !== 0 && o.smtpPort === o.httpPort) {
    program.error(`error: --smtp-port and --http-port are both ${o.smtpPort}; give them different ports.`);
  }
  const { faults, tlsCert, tlsKey, ...rest } = o;
  return { ...rest, tlsCert, tlsKey, faultsFile: faults };
}

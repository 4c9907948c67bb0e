// What the entry points share: the common flags (commander), settings from env + flags, and the
// CLI wrappers built on one runner (with --verbose echoing each command).
import { type Command, CommanderError, Option } from 'commander';
import { Docker } from '../tools/docker.js';
import { runMain, UsageError } from './errors.js';
import { execaRunner, type Runner } from '../tools/runner.js';
import { Kind } from '../tools/kind.js';
import { Kubectl } from '../tools/kubectl.js';
import { readImagePins, readPinsOverride, readToolPins } from '../config/pins.js';
import { PROFILES, resolveSettings, type Settings, type SettingsFlags } from '../config/settings.js';
import { Tilt } from '../tools/tilt.js';

export interface CommonFlags {
  cluster?: string;
  context?: string;
  namespace?: string;
  profile?: string;
  verbose?: boolean;
}

/** --cluster, --context, --namespace, --verbose (and --profile where it matters). */
export function addCommonOptions(cmd: Command, withProfile = false): Command {
  cmd
    .option('--cluster <name>', 'kind cluster name (env MAILKIND_CLUSTER)', undefined)
    .option('--context <ctx>', 'target an existing cluster by kube context instead of kind (env MAILKIND_CONTEXT)', undefined)
    .option('--namespace <ns>', 'namespace of the stack (env MAILKIND_NAMESPACE)', undefined)
    .option('--verbose', 'print each command run', false);
  if (withProfile) cmd.addOption(new Option('--profile <profile>', 'full, or minimal: no Mailman, one kumod (env MAILKIND_PROFILE)').choices(PROFILES));
  return cmd;
}

/** Parses argv; usage errors become UsageError (exit 2), --help prints and exits 0. */
export function parseCommand(cmd: Command, argv: readonly string[]): void {
  cmd.exitOverride().configureOutput({ writeErr: () => {} });
  try {
    cmd.parse([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') throw new HelpShown();
      throw new UsageError(e.message.replace(/^error: /, ''), `see \`npm run ${cmd.name()} -- --help\``);
    }
    throw e;
  }
}

/** --help was printed: the entry point exits 0. */
export class HelpShown extends Error {
  override name = 'HelpShown';
}

export function settingsFrom(flags: CommonFlags, env: NodeJS.ProcessEnv = process.env): Settings {
  const s: SettingsFlags = { cluster: flags.cluster, context: flags.context, namespace: flags.namespace, profile: flags.profile };
  return resolveSettings(env, s);
}

export interface Toolkit {
  runner: Runner;
  docker: Docker;
  kind: Kind;
  kubectl: Kubectl;
  tilt: Tilt;
}

export function makeToolkit(settings: Settings, opts: { verbose: boolean; runner?: Runner; log?: (line: string) => void }): Toolkit {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const runner = opts.runner ?? execaRunner({ binDirs: [settings.paths.bin], onCommand: opts.verbose ? (l) => log(`  $ ${l}`) : undefined });
  return {
    runner,
    docker: new Docker(runner),
    kind: new Kind(runner),
    kubectl: new Kubectl(runner, { context: settings.context, namespace: settings.namespace }),
    tilt: new Tilt(runner),
  };
}

/** The pins, with MAILKIND_PINS_OVERRIDE applied (scripts/lib/config/pins.ts). */
export function readPins(settings: Settings, env: NodeJS.ProcessEnv = process.env) {
  const override = readPinsOverride(env) ?? {};
  return { images: readImagePins(settings.paths.root, override), tools: readToolPins(settings.paths.root, override) };
}

export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.CI) && env.CI !== 'false' && env.CI !== '0';
}

/**
 * An entry point's whole life: parse argv (--help exits 0, usage errors exit 2), resolve settings,
 * run `body`, and print any failure as one line of cause and one of fix (runMain).
 */
export function runCommand<F extends CommonFlags>(cmd: Command, body: (flags: F, settings: Settings) => Promise<number | void>): Promise<void> {
  // Ctrl-C: every step is idempotent, so running the command again continues where it stopped
  process.once('SIGINT', () => {
    process.stderr.write('\ninterrupted: run the same command again to continue where it stopped\n');
    process.exit(130);
  });
  return runMain(async () => {
    try {
      parseCommand(cmd, process.argv.slice(2));
    } catch (e) {
      if (e instanceof HelpShown) return 0;
      throw e;
    }
    const flags = cmd.opts<F>();
    return body(flags, settingsFrom(flags));
  });
}

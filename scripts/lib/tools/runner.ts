// The seam between the toolkit and every external program (docker, kind, kubectl, tilt). The CLI
// wrappers take a Runner; the real one is execa, tests pass a scripted one and read what ran.
import { execa } from 'execa';

export interface RunOptions {
  /** written to the program's stdin */
  input?: string;
  /** milliseconds; the program is killed after this */
  timeoutMs?: number;
  /** a non-zero exit is returned, not thrown */
  reject?: boolean;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

export interface RunResult {
  command: string;
  args: readonly string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  /** true when the program could not be started at all (not on PATH) */
  notFound: boolean;
  timedOut: boolean;
}

export type Runner = (command: string, args: readonly string[], options?: RunOptions) => Promise<RunResult>;

/** A program failed (non-zero exit, timeout, or missing). The message is one line; stderr is kept. */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(readonly result: RunResult) {
    super(describeFailure(result));
  }
}

export function commandLine(command: string, args: readonly string[]): string {
  return [command, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/** The last non-empty line of stderr (where CLIs put their error), or the exit code. */
export function describeFailure(r: RunResult): string {
  const cmd = commandLine(r.command, r.args.slice(0, 3)) + (r.args.length > 3 ? ' ...' : '');
  if (r.notFound) return `${r.command}: not found on PATH`;
  if (r.timedOut) return `${cmd}: timed out`;
  const last = lastLine(r.stderr) || lastLine(r.stdout);
  return `${cmd}: exit ${r.exitCode}${last ? `: ${last}` : ''}`;
}

/**
 * Lines that point at help after the cause, never the cause: docker/cli ends a failed `docker run`
 * with "Run 'docker run --help' for more information" (cli/cobra.go, cmd/docker/docker.go,
 * v28/v29), older CLIs with "See 'docker run --help'.", and kind repeats the failed command's
 * output, that line included, as its last line (kind v0.32.0 pkg/exec: "Command Output: ...").
 */
const HELP_HINT = /^(?:Command Output: )?(?:Run '[^']*--help' for more information\.?|See '[^']*--help'\.?)$/;

/** The last line of an error output that says what went wrong (help pointers skipped). */
export function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !HELP_HINT.test(l));
  return (lines.at(-1) ?? '').replace(/^Command Output: /, '');
}

export interface ExecaRunnerOptions {
  /** called with each command line before it runs (--verbose) */
  onCommand?: (line: string) => void;
  /** extra directories searched before PATH (the project-local bin of --install-tools) */
  binDirs?: string[];
}

export function execaRunner(opts: ExecaRunnerOptions = {}): Runner {
  return async (command, args, options = {}) => {
    opts.onCommand?.(commandLine(command, args));
    const extraPath = opts.binDirs?.length ? opts.binDirs.join(':') : undefined;
    const env = { ...options.env } as Record<string, string | undefined>;
    if (extraPath) env.PATH = `${extraPath}:${options.env?.PATH ?? process.env.PATH ?? ''}`;
    const r = await execa(command, [...args], {
      input: options.input,
      timeout: options.timeoutMs,
      reject: false,
      env,
      cwd: options.cwd,
      stripFinalNewline: true,
      all: false,
    });
    const notFound = (r as { code?: string }).code === 'ENOENT' || /ENOENT/.test(String((r as { originalMessage?: string }).originalMessage ?? ''));
    const result: RunResult = {
      command,
      args,
      exitCode: r.exitCode ?? (notFound ? 127 : 1),
      stdout: typeof r.stdout === 'string' ? r.stdout : '',
      stderr: typeof r.stderr === 'string' ? r.stderr : '',
      notFound,
      timedOut: r.timedOut,
    };
    if (options.reject !== false && (result.exitCode !== 0 || notFound || r.timedOut)) throw new CommandError(result);
    return result;
  };
}

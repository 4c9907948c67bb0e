// What a user sees when a command fails: one line of cause, one line of fix, a non-zero exit and
// never a stack trace (MAILKIND_DEBUG=1 adds the trace for us).
import { CommandError } from '../tools/runner.js';
import { SettingsError } from '../config/settings.js';

/** A failure with a known cause and fix. `code` is the exit status. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly fix?: string,
    readonly code = 1,
    /** extra lines printed after the fix (pod events, log tails) */
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

/** Bad flags or arguments: exit 2. */
export class UsageError extends UserError {
  override name = 'UsageError';
  constructor(message: string, fix = 'see --help') {
    super(message, fix, 2);
  }
}

export interface Printed {
  lines: string[];
  code: number;
}

/** Turns any error into the lines to print and the exit code. */
export function formatFailure(err: unknown, debug = false): Printed {
  const lines: string[] = [];
  let code = 1;
  if (err instanceof UserError) {
    lines.push(`error: ${err.message}`);
    if (err.fix) lines.push(`  fix: ${err.fix}`);
    lines.push(...err.details.map((d) => `  ${d}`));
    code = err.code;
  } else if (err instanceof SettingsError) {
    lines.push(`error: ${err.message}`);
    code = 2;
  } else if (err instanceof CommandError) {
    lines.push(`error: ${err.message}`);
    lines.push('  fix: run again with --verbose to see every command; the line above is the tool\'s own error');
  } else {
    lines.push(`error: ${err instanceof Error ? err.message : String(err)}`);
    lines.push('  this is a bug in mailkind: please report it with the output of MAILKIND_DEBUG=1');
  }
  if (debug && err instanceof Error && err.stack) lines.push(err.stack);
  return { lines, code };
}

/** Runs an entry point: prints a failure as formatFailure says and sets the exit code. */
export async function runMain(main: () => Promise<number | void>): Promise<void> {
  // `npm run status | head`: the reader went away, which is not an error of ours (no stack trace)
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  try {
    const code = await main();
    process.exitCode = code ?? 0;
  } catch (err) {
    const { lines, code } = formatFailure(err, process.env.MAILKIND_DEBUG === '1');
    for (const l of lines) process.stderr.write(`${l}\n`);
    process.exitCode = code;
  }
}

// What the benchmark needs before it starts: postfix's test programs, maildev, a fresh sink bundle.
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { execa } from 'execa';
import { track } from './procs.js';

/** A problem with the machine or the checkout, reported as one actionable message (exit 2). */
export class BenchSetupError extends Error {
  override name = 'BenchSetupError';
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** A program from PATH, or from the sbin directories Debian installs postfix's tools into. */
export function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  return dirs.map((d) => join(d, name)).find(isExecutable);
}

export interface PostfixTools {
  smtpSource: string;
  smtpSink: string;
}

export function requirePostfixTools(): PostfixTools {
  const smtpSource = findProgram('smtp-source');
  const smtpSink = findProgram('smtp-sink');
  const missing = [smtpSource ? undefined : 'smtp-source', smtpSink ? undefined : 'smtp-sink'].filter(Boolean);
  if (!smtpSource || !smtpSink) {
    throw new BenchSetupError(
      `postfix's ${missing.join(' and ')} not found (looked in PATH and /usr/sbin). ` +
        'The benchmark drives every server with smtp-source and compares against smtp-sink; both come with postfix. ' +
        'Install it: sudo apt-get install postfix (Debian/Ubuntu; choose "No configuration" when asked), then run npm run bench again.',
    );
  }
  return { smtpSource, smtpSink };
}

export interface MaildevInstall {
  bin: string;
  version: string;
}

export function requireMaildev(root: string): MaildevInstall {
  const require = createRequire(join(root, 'package.json'));
  let pkgFile: string;
  try {
    pkgFile = require.resolve('maildev/package.json');
  } catch {
    throw new BenchSetupError('the npm package maildev (a devDependency, the benchmark peer) is not installed: run npm ci.');
  }
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { version?: string; bin?: Record<string, string> | string };
  const rel = typeof pkg.bin === 'string' ? pkg.bin : (pkg.bin?.maildev ?? 'bin/maildev');
  const bin = join(dirname(pkgFile), rel);
  if (!existsSync(bin)) throw new BenchSetupError(`maildev is installed but ${bin} is missing: run npm ci.`);
  return { bin, version: pkg.version ?? 'unknown' };
}

function newestMtimeMs(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((name) => newestMtimeMs(join(path, name))));
}

export const BUNDLE = 'sinks/smtp-sink/dist/sink.mjs';

/** Builds dist/sink.mjs (npm run sink:build) when it is missing or older than the sink's sources. */
export async function ensureBundle(root: string, log: (line: string) => void): Promise<string> {
  const bundle = join(root, BUNDLE);
  const sources = Math.max(newestMtimeMs(join(root, 'sinks/smtp-sink/src')), newestMtimeMs(join(root, 'sinks/smtp-sink/package.json')));
  const reason = !existsSync(bundle) ? 'missing' : statSync(bundle).mtimeMs < sources ? 'older than sinks/smtp-sink/src' : undefined;
  if (reason === undefined) return bundle;
  log(`building ${BUNDLE} (${reason}): npm run sink:build`);
  const result = await track(execa('npm', ['run', 'sink:build'], { cwd: root, reject: false, all: true, stdin: 'ignore', timeout: 120_000 }));
  if (result.exitCode !== 0 || !existsSync(bundle)) {
    throw new BenchSetupError(`npm run sink:build failed (exit ${result.exitCode ?? result.signal ?? '?'}):\n${result.all ?? ''}`);
  }
  return bundle;
}

// One run of postfix's smtp-source against a server, timed by wall clock.
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { HOST } from './net.js';
import { track } from './procs.js';

export interface SourceOptions {
  /** Path of smtp-source. */
  bin: string;
  port: number;
  messages: number;
  sessions: number;
  /** Payload bytes per message (-l). */
  size: number;
  /** -d: keep each session's connection for all its messages. */
  reuse: boolean;
  from: string;
  to: string;
  /** The run is killed after this long. */
  timeoutMs: number;
}

export interface SourceRun {
  args: string[];
  wallMs: number;
  /** Set when the run failed: non-zero exit, killed by a signal, or timed out. */
  error?: string;
  /** What smtp-source wrote to stderr (warnings), trimmed; empty when it was quiet. */
  stderr: string;
}

export function smtpSourceArgs(o: Omit<SourceOptions, 'bin' | 'timeoutMs'>): string[] {
  return [
    '-s', String(o.sessions),
    '-l', String(o.size),
    '-m', String(o.messages),
    ...(o.reuse ? ['-d'] : []),
    '-f', o.from,
    '-t', o.to,
    `${HOST}:${o.port}`,
  ];
}

export async function runSmtpSource(o: SourceOptions): Promise<SourceRun> {
  const args = smtpSourceArgs(o);
  const started = performance.now();
  const result = await track(
    execa(o.bin, args, {
      stdin: 'ignore',
      reject: false,
      timeout: o.timeoutMs,
      forceKillAfterDelay: 2_000,
      maxBuffer: 1024 * 1024,
    }),
  );
  const wallMs = performance.now() - started;
  const stderr = String(result.stderr ?? '').trim();
  const lastLine = stderr.split('\n').at(-1) ?? '';
  let error: string | undefined;
  if (result.timedOut) error = `killed after ${o.timeoutMs / 1000} s`;
  else if (result.signal) error = `killed by ${result.signal}${lastLine ? `: ${lastLine}` : ''}`;
  else if (result.exitCode !== 0) error = `exit ${result.exitCode ?? '?'}${lastLine ? `: ${lastLine}` : ''}`;
  return error === undefined ? { args, wallMs, stderr } : { args, wallMs, stderr, error };
}

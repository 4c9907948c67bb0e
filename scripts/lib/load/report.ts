// What a load run shows: the live view (a terminal block redrawn each second), plain progress
// lines for logs, the final summary as text, and the same summary as JSON. Pure formatting.
import type { LoadConfig } from './options.js';
import type { RunResult, Tick } from './runner.js';
import type { ErrorKind } from './smtp-client.js';
import type { LatencySummary, Snapshot } from './stats.js';

export const SUMMARY_VERSION = 1;

export interface LoadSummary {
  version: number;
  run: string;
  mode: LoadConfig['mode'];
  /** what `messages` counts: SMTP transactions, or inject requests (kumod makes one message per recipient) */
  unit: 'message' | 'request';
  target: string;
  startedAt: string;
  finishedAt: string;
  elapsedMs: number;
  interrupted: boolean;
  settings: {
    rate: number | null;
    concurrency: number;
    count: number | null;
    durationMs: number | null;
    recipientsPerMessage: number;
    size: number;
    starttls: boolean;
    seed: number;
  };
  messages: Snapshot['messages'];
  recipients: Snapshot['recipients'];
  /** refusal codes seen, with counts */
  codes: Record<string, number>;
  throughput: { sentPerSecond: number; acceptedPerSecond: number };
  latencyMs: LatencySummary;
  connections: number;
  mix: { entry: string; weight: number; recipients: number }[];
  samples: Snapshot['samples'];
  /** what the numbers suggest (e.g. the relay refused every recipient) */
  hints: string[];
}

export function int(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function ms(v: number | null): string {
  if (v === null) return '-';
  return v < 10 ? `${v.toFixed(2)} ms` : v < 1000 ? `${v.toFixed(1)} ms` : `${(v / 1000).toFixed(2)} s`;
}

function secs(msValue: number): string {
  return `${(msValue / 1000).toFixed(1)}s`;
}

const perSecond = (n: number, elapsedMs: number) => (elapsedMs > 0 ? n / (elapsedMs / 1000) : 0);
const round2 = (n: number) => Math.round(n * 100) / 100;

function errorsText(errors: Record<ErrorKind, number>): string {
  return Object.entries(errors)
    .map(([k, v]) => `${k} ${int(v)}`)
    .join(', ');
}

function progress(c: Pick<LoadConfig, 'count' | 'durationMs'>, s: Snapshot): string {
  if (c.count !== null) return `${int(s.messages.sent)}/${int(c.count)}`;
  return `${secs(s.elapsedMs)}/${secs(c.durationMs ?? 0)}`;
}

function rateText(c: Pick<LoadConfig, 'rate'>): string {
  return c.rate === null ? 'max' : `${int(c.rate)}/s`;
}

/** The block redrawn on a terminal about once a second. */
export function liveView(c: LoadConfig, t: Tick): string {
  const s = t.snapshot;
  const m = s.messages;
  return [
    `load ${c.run}  ${c.mode} -> ${c.target.label}  ${progress(c, s)}  ${secs(s.elapsedMs)}`,
    `  sent/s    ${t.sentPerSecond.toFixed(0).padStart(7)}  (target ${rateText(c)})   in flight ${s.inFlight}${c.mode === 'smtp' ? `   connections ${s.connections}` : ''}${c.mode === 'http' ? '   (requests)' : ''}`,
    `  sent      ${int(m.sent).padStart(7)}   accepted ${int(m.accepted)}   refused 4xx ${int(m.refused['4xx'])}  5xx ${int(m.refused['5xx'])}`,
    `  errors    ${errorsText(m.errors)}`,
    `  latency   p50 ${ms(t.window.p50)}  p95 ${ms(t.window.p95)}  p99 ${ms(t.window.p99)}  (last second; whole run p99 ${ms(s.latencyMs.p99)})`,
  ].join('\n');
}

/** One line per interval for logs (CI=true, not a terminal). */
export function plainLine(c: LoadConfig, t: Tick, clock: Date = new Date()): string {
  const s = t.snapshot;
  const m = s.messages;
  const errors = Object.values(m.errors).reduce((a, b) => a + b, 0);
  return (
    `${clock.toISOString().slice(11, 19)} load ${progress(c, s)} sent ${int(m.sent)} (${t.sentPerSecond.toFixed(0)}/s) accepted ${int(m.accepted)} ` +
    `4xx ${int(m.refused['4xx'])} 5xx ${int(m.refused['5xx'])} errors ${int(errors)}${errors > 0 ? ` (${errorsText(m.errors)})` : ''} ` +
    `p50 ${ms(t.window.p50)} p95 ${ms(t.window.p95)} p99 ${ms(t.window.p99)}`
  );
}

/** Things the counts say that a newcomer might miss. */
export function hints(c: LoadConfig, s: Snapshot): string[] {
  const out: string[] = [];
  const m = s.messages;
  const replied = m.accepted + m.refused['4xx'] + m.refused['5xx'];
  const relayRefused = Object.values(s.samples.refusals).some((t) => /relay/i.test(t));
  if (c.mode === 'smtp' && m.accepted === 0 && m.refused['5xx'] > 0 && relayRefused) {
    out.push('every message was refused as relaying: the relay port accepts mail only from the cluster\'s networks and loopback (manifests/base/policy/kumomta/init.lua, RELAY_NETWORKS)');
  }
  if (replied === 0 && m.sent > 0) out.push('the target never answered a message: see the errors above');
  if (c.rate !== null && s.elapsedMs > 2000 && perSecond(m.sent, s.elapsedMs) < c.rate * 0.9 && c.count === null) {
    out.push(`the target rate of ${int(c.rate)}/s was not reached: the target is slower, or raise --concurrency (now ${c.concurrency})`);
  }
  return out;
}

export function summarize(c: LoadConfig, r: RunResult, startedAt: Date, finishedAt: Date): LoadSummary {
  const s = r.snapshot;
  return {
    version: SUMMARY_VERSION,
    run: c.run,
    mode: c.mode,
    unit: c.mode === 'http' ? 'request' : 'message',
    target: c.target.label,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    elapsedMs: Math.round(s.elapsedMs),
    interrupted: r.interrupted,
    settings: { rate: c.rate, concurrency: c.concurrency, count: c.count, durationMs: c.durationMs, recipientsPerMessage: c.recipientsPerMessage, size: c.size, starttls: c.starttls, seed: c.seed },
    messages: s.messages,
    recipients: s.recipients,
    codes: s.codes,
    throughput: { sentPerSecond: round2(perSecond(s.messages.sent, s.elapsedMs)), acceptedPerSecond: round2(perSecond(s.messages.accepted, s.elapsedMs)) },
    latencyMs: s.latencyMs,
    connections: s.connections,
    mix: c.mix.map((e, i) => ({ entry: e.key, weight: e.weight, recipients: r.perEntry[i] ?? 0 })),
    samples: s.samples,
    hints: hints(c, s),
  };
}

const pct = (n: number, of: number) => (of > 0 ? `${((n / of) * 100).toFixed(1)}%` : '-');

/** The final summary for people. */
export function summaryText(sum: LoadSummary): string {
  const m = sum.messages;
  const r = sum.recipients;
  const l = sum.latencyMs;
  const errors = Object.values(m.errors).reduce((a, b) => a + b, 0);
  const lines = [
    `load run ${sum.run}: ${sum.mode} -> ${sum.target}${sum.interrupted ? ' (interrupted)' : ''}`,
    `  time        ${secs(sum.elapsedMs)}, ${sum.unit === 'message' ? `${sum.connections} connection(s) opened, ` : ''}concurrency ${sum.settings.concurrency}, rate ${sum.settings.rate === null ? 'max' : `${int(sum.settings.rate)}/s`}`,
    `  ${sum.unit === 'request' ? 'requests  ' : 'messages  '}  sent ${int(m.sent)} (${sum.throughput.sentPerSecond.toFixed(1)}/s)   accepted ${int(m.accepted)} (${pct(m.accepted, m.sent)})   refused 4xx ${int(m.refused['4xx'])}  5xx ${int(m.refused['5xx'])}   errors ${int(errors)}`,
    `  recipients  sent ${int(r.sent)}   accepted ${int(r.accepted)}   refused 4xx ${int(r.refused['4xx'])}  5xx ${int(r.refused['5xx'])}`,
    `  errors      ${errorsText(m.errors)}`,
    `  latency     min ${ms(l.min)}  p50 ${ms(l.p50)}  p95 ${ms(l.p95)}  p99 ${ms(l.p99)}  max ${ms(l.max)}`,
  ];
  const codes = Object.entries(sum.codes);
  if (codes.length > 0) lines.push(`  codes       ${codes.map(([c, n]) => `${c} x${int(n)}`).join(', ')}`);
  lines.push(`  mix (seed ${sum.settings.seed})`);
  const total = sum.mix.reduce((a, e) => a + e.recipients, 0);
  const w = Math.max(...sum.mix.map((e) => e.entry.length));
  for (const e of sum.mix) lines.push(`    ${e.entry.padEnd(w)}  ${int(e.recipients).padStart(8)}  ${pct(e.recipients, total).padStart(6)}`);
  for (const [kind, msg] of Object.entries(sum.samples.errors)) lines.push(`  first ${kind} error: ${msg}`);
  for (const [code, text] of Object.entries(sum.samples.refusals)) lines.push(`  ${code} said: ${text.split('\n')[0] ?? ''}`);
  for (const h of sum.hints) lines.push(`  note: ${h}`);
  lines.push(`  the sink groups these messages under run ${sum.run} (X-Mailkind-Run)`);
  return lines.join('\n');
}

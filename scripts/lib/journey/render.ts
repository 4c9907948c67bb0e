// A journey as terminal text (npm run trace, the e2e failure diagnostics): one block per message,
// one per recipient (a list member's copy under its list), one line per step, 24-hour UTC times.
// Pure: data in, lines out.
import type { SinkJourney } from '../clients/sink-client.js';

type Timeline = SinkJourney['timelines'][number];
type Step = Timeline['steps'][number];

/** "14:03:07.412" in UTC: the same clock kumod's event_time and the sink use. */
export function clock(iso: string): string {
  return iso.slice(11, 23);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function outcome(t: Timeline): string {
  const extra = [t.deferrals ? plural(t.deferrals, 'deferral') : '', t.refusals ? plural(t.refusals, 'refusal') + ' at the sink' : ''].filter(Boolean).join(', ');
  const word = { delivered: 'delivered', bounced: 'BOUNCED', expired: 'EXPIRED', rejected: 'REJECTED by kumod', refused: 'REFUSED by the sink', queued: 'still QUEUED' }[t.status];
  return extra ? `${word} (${extra})` : word;
}

function stepLine(s: Step): string {
  const code = s.code === null || s.code === 0 ? (s.kind === 'Dropped' ? '---' : '   ') : String(s.code);
  const detail = [s.text, s.where].filter((x) => x !== null && x !== '').join('  ·  ');
  const attempt = s.attempt ? `  #${s.attempt}` : '';
  return `${clock(s.time)}  ${s.source.padEnd(5)}  ${s.kind.padEnd(16)} ${code}  ${detail}${attempt}`.trimEnd();
}

export function renderJourney(j: SinkJourney): string[] {
  const head = [`message ${j.messageId ? `<${j.messageId}>` : '(no Message-ID)'}`, j.run ? `run ${j.run}` : '', j.subject ? `"${j.subject}"` : ''].filter(Boolean).join('  ');
  const lines = [head, `  ${j.firstSeen.slice(0, 10)} ${clock(j.firstSeen)} → ${clock(j.lastSeen)} UTC   outcome: ${j.status}`];
  for (const t of j.timelines) {
    const indent = t.parent ? '    ' : '  ';
    lines.push('');
    lines.push(`${indent}${t.parent ? `└ copy from ${t.parent} to ` : 'to '}${t.recipient || '(no recipient)'}: ${outcome(t)}`);
    for (const s of t.steps) lines.push(`${indent}  ${stepLine(s)}`);
  }
  return lines;
}

export function renderJourneys(journeys: readonly SinkJourney[]): string {
  return journeys.map((j) => renderJourney(j).join('\n')).join('\n\n') + '\n';
}

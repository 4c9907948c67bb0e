// What a failing scenario prints: recent events, the relevant pods (wide list, descriptions, last
// log lines) and the sink's view of the run (stats, attempts, messages). Each section is collected
// on its own; one that fails says so and the others still come.
import type { SinkClient } from '../../../scripts/lib/clients/sink-client.js';
import { renderJourneys } from '../../../scripts/lib/journey/render.js';
import { NAME_LABEL, type Cluster } from './cluster.js';

export interface DiagnosticsOptions {
  /** components (app.kubernetes.io/name values) whose pods to describe and tail */
  components: readonly string[];
  sink?: SinkClient;
  run?: string;
  /** log lines per pod */
  tail?: number;
  /** per kubectl call */
  timeoutMs?: number;
}

async function section(title: string, body: () => Promise<string>): Promise<string> {
  let text: string;
  try {
    text = (await body()).trimEnd() || '(empty)';
  } catch (e) {
    text = `(could not collect: ${(e as Error).message})`;
  }
  return `----- ${title}\n${text}`;
}

const lastLines = (text: string, n: number): string => text.trimEnd().split('\n').slice(-n).join('\n');

export async function collectDiagnostics(cluster: Cluster, o: DiagnosticsOptions): Promise<string> {
  const tail = o.tail ?? 40;
  const opts = { timeoutMs: o.timeoutMs ?? 15_000 };
  const parts: Promise<string>[] = [
    // `kubectl events`, not `get events --sort-by=.lastTimestamp`: the scheduler reports through
    // events.k8s.io (eventTime set, lastTimestamp null), so its events sorted as the oldest and the
    // last 30 lines could miss them; `kubectl events` sorts by eventTime when lastTimestamp is unset
    // (kubectl pkg/cmd/events/events.go, eventTime)
    section(`events in ${cluster.namespace} (most recent last)`, async () => lastLines(await cluster.run(['events'], opts), 30)),
    section('pods', () => cluster.run(['get', 'pods', '-o', 'wide'], opts)),
  ];
  for (const c of o.components) {
    const selector = `${NAME_LABEL}=${c}`;
    parts.push(
      section(`describe pods -l ${selector}`, () => cluster.run(['describe', 'pods', '-l', selector], opts)),
      section(`logs -l ${selector} (last ${tail} lines per container)`, () =>
        cluster.run(['logs', '-l', selector, '--all-containers', '--prefix', `--tail=${tail}`, '--max-log-requests=10'], opts),
      ),
    );
  }
  const { sink, run } = o;
  if (sink) {
    parts.push(section('sink stats', async () => JSON.stringify(await sink.stats(), null, 2)));
    if (run) {
      parts.push(
        section(`sink attempts of run ${run} (last 50)`, async () =>
          (await sink.attempts({ run, limit: 50 }))
            .map((a) => `${a.time} ${a.phase} ${a.code} attempt ${a.attempt} from ${a.clientAddress} to ${a.rcptTo.join(',')} ${a.messageId ?? ''} ${a.fault ?? ''} ${a.note ?? ''}`.trimEnd())
            .join('\n'),
        ),
        // kumod's records and the sink's attempts of every message the scenario sent (npm run trace -- <run>)
        section(`journeys of run ${run} (first 20 messages)`, async () => {
          const j = await sink.journey({ run }, 20);
          return j.total ? renderJourneys(j.journeys) + (j.total > j.count ? `(${j.total - j.count} more: npm run trace -- ${run})\n` : '') : '(no journey: kumod posted no record and the sink saw no attempt for this run)';
        }),
        section(`sink messages of run ${run} (newest 20)`, async () => {
          const m = await sink.messages({ run, limit: 20 });
          return [`total ${m.total}`, ...m.messages.map((x) => `${x.receivedAt} ${x.messageId ?? '-'} ${x.mailFrom} -> ${x.rcptTo.join(',')} tls=${x.tls} from ${x.clientAddress}`)].join('\n');
        }),
      );
    }
  }
  return (await Promise.all(parts)).join('\n');
}

// GET /api/journey and the dashboard's journey list: the records of the wanted messages read from
// the indexes of the two rings (kumod's records, the sink's attempts), then joined by buildJourneys.
// Gives the same journeys as buildJourneys over both whole rings (test/component/sink/
// journey-index.test.ts checks that), at the cost of the matching records instead of the ring size.
import type { SinkStore } from '../record/store.js';
import { bareMessageId, buildJourneys, type Journey, type JourneyQuery } from './join.js';
import type { JourneyStore } from './store.js';

export function lookupJourneys(journey: JourneyStore | undefined, store: SinkStore, query: JourneyQuery): Journey[] {
  let ids: Set<string>;
  if ('messageId' in query) ids = new Set([bareMessageId(query.messageId)]);
  else if ('messageIds' in query) ids = new Set(query.messageIds.map(bareMessageId));
  else ids = new Set([...(journey?.messageIdsOfRun(query.run) ?? []), ...store.messageIdsOfRun(query.run)]);
  const events = journey?.eventsFor(ids, 'run' in query ? query.run : undefined) ?? [];
  return buildJourneys(events, store.attemptsOf(ids), query);
}

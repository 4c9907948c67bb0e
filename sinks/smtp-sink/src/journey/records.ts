// kumod's log records, as its log hook posts them (POST /api/journey/records), turned into the
// few fields a journey shows. Pure.
//
// The format is KumoMTA's documented log record (KumoCorp/kumomta docs/reference/log_record.md at
// tag 2026.06.23-f3af1cd0): `type`, `id` (spool id), `sender`, `recipient` (a string, or an array
// for a multi-recipient batch since 2025.12.02), `queue`, `site`, `size`, `response` {`code`,
// `enhanced_code` {class, subject, detail}, `content`, `command`}, `peer_address` {name, addr},
// `timestamp` (unix seconds), `event_time` (RFC 3339, since 2025.10.06), `created`,
// `num_attempts`, `bounce_classification`, `egress_pool`, `egress_source`, `headers` (the header
// names configured on the hook), `delivery_protocol`, `reception_protocol`, `nodeid`,
// `session_id`. Fields this module does not know are ignored, so a newer kumod still posts fine.
import { normalizeMessageId } from '../record/headers.js';

/** Record types KumoMTA documents (log_record.md "Record Types"); others are kept as they come. */
export const KUMO_RECORD_TYPES = [
  'Reception',
  'Delivery',
  'Bounce',
  'TransientFailure',
  'Expiration',
  'AdminBounce',
  'OOB',
  'Feedback',
  'Rejection',
  'AdminRebind',
  'DeferredInjectionRebind',
  'Delayed',
  'XferOut',
  'XferIn',
] as const;

export interface KumoEvent {
  /** Arrival order at the sink, for a stable sort of records within the same instant. */
  seq: number;
  /** ms since the epoch: event_time when present (sub-second), else timestamp. */
  time: number;
  type: string;
  spoolId: string | null;
  sender: string | null;
  recipients: string[];
  queue: string | null;
  site: string | null;
  code: number | null;
  /** "4.7.1" from enhanced_code, when the reply had one. */
  enhancedCode: string | null;
  content: string | null;
  command: string | null;
  peer: string | null;
  numAttempts: number | null;
  bounceClassification: string | null;
  deliveryProtocol: string | null;
  receptionProtocol: string | null;
  nodeId: string | null;
  messageId: string | null;
  run: string | null;
  subject: string | null;
  listId: string | null;
  /** The address of whoever posted the record (a kumod pod, or a test). */
  postedFrom: string;
}

export type ParseResult = { ok: true; event: Omit<KumoEvent, 'seq' | 'postedFrom'> } | { ok: false; error: string };

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function header(headers: unknown, name: string): string | null {
  if (!headers || typeof headers !== 'object') return null;
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
    if (k.toLowerCase() === wanted) return typeof v === 'string' ? v.trim() || null : null;
  }
  return null;
}

/** One record as kumod serialises it; anything without a type and a time is refused. */
export function parseKumoRecord(input: unknown): ParseResult {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return { ok: false, error: 'a record must be a JSON object' };
  const r = input as Record<string, unknown>;
  const type = str(r.type);
  if (!type) return { ok: false, error: 'record has no "type"' };
  const eventTime = str(r.event_time);
  const parsedEventTime = eventTime ? Date.parse(eventTime) : NaN;
  const seconds = num(r.timestamp);
  const time = Number.isFinite(parsedEventTime) ? parsedEventTime : seconds !== null ? seconds * 1000 : NaN;
  if (!Number.isFinite(time)) return { ok: false, error: `${type} record has neither "event_time" nor "timestamp"` };
  const recipient = r.recipient;
  const recipients = Array.isArray(recipient) ? recipient.filter((x): x is string => typeof x === 'string') : typeof recipient === 'string' ? [recipient] : [];
  const response = (r.response && typeof r.response === 'object' ? r.response : {}) as Record<string, unknown>;
  const enhanced = response.enhanced_code as { class?: unknown; subject?: unknown; detail?: unknown } | null | undefined;
  const peer = (r.peer_address && typeof r.peer_address === 'object' ? r.peer_address : {}) as Record<string, unknown>;
  return {
    ok: true,
    event: {
      time,
      type,
      spoolId: str(r.id),
      sender: str(r.sender),
      recipients,
      queue: str(r.queue),
      site: str(r.site),
      code: num(response.code),
      enhancedCode: enhanced && num(enhanced.class) !== null ? `${String(enhanced.class)}.${String(enhanced.subject)}.${String(enhanced.detail)}` : null,
      content: str(response.content),
      command: str(response.command),
      peer: str(peer.addr) ?? str(peer.name),
      numAttempts: num(r.num_attempts),
      bounceClassification: str(r.bounce_classification),
      deliveryProtocol: str(r.delivery_protocol),
      receptionProtocol: str(r.reception_protocol),
      nodeId: str(r.nodeid),
      messageId: normalizeMessageId(header(r.headers, 'Message-ID')),
      run: header(r.headers, 'X-Mailkind-Run'),
      subject: header(r.headers, 'Subject'),
      listId: header(r.headers, 'List-Id'),
    },
  };
}

/** The body of POST /api/journey/records: one record, an array of them, or JSON lines. */
export function splitBody(text: string): unknown[] | null {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  try {
    const doc = JSON.parse(trimmed) as unknown;
    return Array.isArray(doc) ? (doc as unknown[]) : [doc];
  } catch {
    // JSON lines: what kumod's local log segments and `tailer` produce
    const out: unknown[] = [];
    for (const line of trimmed.split('\n')) {
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line) as unknown);
      } catch {
        return null;
      }
    }
    return out;
  }
}

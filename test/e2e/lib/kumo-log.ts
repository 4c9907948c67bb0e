// KumoMTA's delivery log records as the stack's policy prints them: one JSON object per line on
// kumod's stdout (init.lua, log_hooks:new_disposition_hook 'stdout'), mixed with diagnostic lines
// on stderr. Record shape: docs/reference/log_record.md (KumoCorp/kumomta 2026.06.23-f3af1cd0):
// "type" (Reception, Delivery, Bounce, TransientFailure, Expiration, ...), "recipient" (a string,
// or an array for a batch since 2025.12.02), "response" {code, content, ...}, "num_attempts".

export interface KumoLogRecord {
  type: string;
  id?: string;
  sender?: string;
  recipient: string | string[];
  queue?: string;
  response?: { code?: number; content?: string; command?: string | null };
  num_attempts?: number;
  timestamp?: number;
  [key: string]: unknown;
}

/**
 * Every log record in a `kubectl logs` text. Lines may carry a "[pod/...]" prefix (--prefix);
 * anything that is not a JSON object with a type and a recipient is skipped.
 */
export function parseLogRecords(text: string): KumoLogRecord[] {
  const out: KumoLogRecord[] = [];
  for (const line of text.split('\n')) {
    const brace = line.indexOf('{');
    if (brace < 0) continue;
    let doc: unknown;
    try {
      doc = JSON.parse(line.slice(brace));
    } catch {
      continue;
    }
    if (typeof doc !== 'object' || doc === null) continue;
    const r = doc as Partial<KumoLogRecord>;
    if (typeof r.type !== 'string') continue;
    if (typeof r.recipient !== 'string' && !(Array.isArray(r.recipient) && r.recipient.every((x) => typeof x === 'string'))) continue;
    out.push(r as KumoLogRecord);
  }
  return out;
}

export function recipientsOf(r: KumoLogRecord): string[] {
  return (Array.isArray(r.recipient) ? r.recipient : [r.recipient]).map((x) => x.toLowerCase());
}

/** The records about one recipient (case-insensitive), in log order. */
export function recordsOf(records: readonly KumoLogRecord[], recipient: string): KumoLogRecord[] {
  const want = recipient.toLowerCase();
  return records.filter((r) => recipientsOf(r).includes(want));
}

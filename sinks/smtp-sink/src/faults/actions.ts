// The fault vocabulary, shared by recipient local parts ("tempfail-2+abc@x.test") and runtime rules.
// Pure: parsing and "what reply does this attempt get" only; counting attempts is the engine's job.

export type Phase = 'rcpt' | 'data';

export type FaultAction =
  | { kind: 'tempfail' }
  | { kind: 'permfail' }
  | { kind: 'tempfail-n'; n: number }
  | { kind: 'slow'; ms: number }
  | { kind: 'disconnect' }
  | { kind: 'code'; code: number };

/** What the sink does with one attempt. */
export type Verdict =
  | { kind: 'accept'; delayMs: number }
  | { kind: 'reply'; code: number; message: string }
  | { kind: 'disconnect' };

export const ACCEPT: Verdict = Object.freeze({ kind: 'accept', delayMs: 0 });

/** A slow reply longer than this is a mistake, not a test (KumoMTA's own data timeout is minutes). */
export const MAX_SLOW_MS = 600_000;

/** "tempfail", "permfail", "tempfail-3", "slow-250", "disconnect", "code-452" -> action; anything else -> null. */
export function parseAction(spec: string): FaultAction | null {
  const s = spec.trim().toLowerCase();
  if (s === 'tempfail') return { kind: 'tempfail' };
  if (s === 'permfail') return { kind: 'permfail' };
  if (s === 'disconnect') return { kind: 'disconnect' };
  const m = /^(tempfail|slow|code)-(\d{1,9})$/.exec(s);
  if (!m) return null;
  const n = Number(m[2]);
  switch (m[1]) {
    case 'tempfail':
      return n >= 1 ? { kind: 'tempfail-n', n } : null;
    case 'slow':
      return n <= MAX_SLOW_MS ? { kind: 'slow', ms: n } : null;
    default:
      return n >= 400 && n <= 599 ? { kind: 'code', code: n } : null;
  }
}

export function formatAction(a: FaultAction): string {
  switch (a.kind) {
    case 'tempfail-n':
      return `tempfail-${a.n}`;
    case 'slow':
      return `slow-${a.ms}`;
    case 'code':
      return `code-${a.code}`;
    default:
      return a.kind;
  }
}

export interface LocalPartFault {
  phase: Phase;
  action: FaultAction;
}

/**
 * The fault a recipient address asks for by its local part. "+tag" is ignored, so tests can make
 * addresses unique ("tempfail-2+run42@example.test"); a "rcpt-" prefix moves the fault to RCPT time.
 */
const MAYBE_FAULT = /^(?:rcpt-)?(?:tempfail|permfail|disconnect|slow-|code-)/i;

export function localPartFault(address: string): LocalPartFault | null {
  if (!MAYBE_FAULT.test(address)) return null; // the common case, checked once per recipient
  const at = address.lastIndexOf('@');
  let local = (at >= 0 ? address.slice(0, at) : address).toLowerCase();
  const plus = local.indexOf('+');
  if (plus >= 0) local = local.slice(0, plus);
  let phase: Phase = 'data';
  if (local.startsWith('rcpt-')) {
    phase = 'rcpt';
    local = local.slice('rcpt-'.length);
  }
  const action = parseAction(local);
  return action ? { phase, action } : null;
}

/**
 * The verdict for one attempt. `attempt` is 1 for the first time this message (or, at RCPT, this
 * sender and recipient) is seen. Returns null when the action does not apply to this attempt.
 */
export function verdictFor(action: FaultAction, attempt: number, text?: string): Verdict | null {
  const label = formatAction(action);
  const say = (fallback: string) => text ?? `mailkind sink fault ${label}: ${fallback}`;
  switch (action.kind) {
    case 'tempfail':
      return { kind: 'reply', code: 451, message: say('try again later') };
    case 'permfail':
      return { kind: 'reply', code: 550, message: say('permanent failure') };
    case 'tempfail-n':
      return attempt <= action.n
        ? { kind: 'reply', code: 451, message: say(`attempt ${attempt} of ${action.n} refused, try again later`) }
        : null;
    case 'slow':
      return { kind: 'accept', delayMs: action.ms };
    case 'disconnect':
      return { kind: 'disconnect' };
    case 'code':
      return { kind: 'reply', code: action.code, message: say(`reply ${action.code}`) };
  }
}

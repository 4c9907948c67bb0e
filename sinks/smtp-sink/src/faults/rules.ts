// Runtime fault rules (GET/PUT /api/faults): schema, matching and seeded probability. Pure.
import { z } from 'zod';
import { parseAction, type FaultAction, type Phase } from './actions.js';

const globPattern = z.string().min(1).max(512);

export const ruleSchema = z
  .strictObject({
    id: z.string().min(1).max(100).optional(),
    match: z
      .strictObject({
        domain: globPattern.optional().describe('recipient domain, glob: "example.test", "*.example.test"'),
        rcpt: globPattern.optional().describe('recipient address, glob: "bob*@example.test"'),
        mailFrom: globPattern.optional().describe('envelope sender, glob'),
        run: z.string().min(1).max(200).optional().describe('X-Mailkind-Run header value (data phase only)'),
      })
      .default({}),
    action: z.string().refine((s) => parseAction(s) !== null, {
      message: 'must be one of tempfail, permfail, tempfail-<n>, slow-<ms>, disconnect, code-<400..599>',
    }),
    phase: z.enum(['rcpt', 'data']).default('data'),
    probability: z.number().min(0).max(1).default(1),
    message: z.string().min(1).max(400).optional().describe('reply text instead of the default'),
  })
  .refine((r) => !(r.phase === 'rcpt' && r.match.run), {
    message: 'match.run needs the message headers, so it only works with phase "data"',
    path: ['match', 'run'],
  });

export const faultSetSchema = z.strictObject({
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(1),
  rules: z.array(ruleSchema).max(1000).default([]),
});

export type FaultSetInput = z.input<typeof faultSetSchema>;

export interface Rule {
  id: string;
  match: { domain?: string; rcpt?: string; mailFrom?: string; run?: string };
  action: string;
  phase: Phase;
  probability: number;
  message?: string;
}

export interface CompiledRule extends Rule {
  parsed: FaultAction;
  test: { domain?: Glob; rcpt?: Glob; mailFrom?: Glob };
}

export interface FaultSet {
  seed: number;
  rules: CompiledRule[];
}

export const EMPTY_FAULT_SET: FaultSet = { seed: 1, rules: [] };

export type Glob = (text: string) => boolean;

/**
 * A case-insensitive glob (`*` any run, `?` one character) as a linear-time matcher. Not a RegExp:
 * rules come from PUT /api/faults, and a pattern like "*a*a*a*b" would backtrack for minutes.
 */
export function glob(pattern: string): Glob {
  const p = pattern.toLowerCase();
  return (input: string) => {
    const t = input.toLowerCase();
    let i = 0;
    let j = 0;
    let star = -1;
    let mark = 0;
    while (i < t.length) {
      if (j < p.length && (p[j] === '?' || p[j] === t[i])) {
        i++;
        j++;
      } else if (j < p.length && p[j] === '*') {
        star = j++;
        mark = i;
      } else if (star >= 0) {
        j = star + 1;
        i = ++mark;
      } else {
        return false;
      }
    }
    while (j < p.length && p[j] === '*') j++;
    return j === p.length;
  };
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/** Validates a PUT body; every problem comes back as one readable line with its JSON path. */
export function parseFaultSet(input: unknown): ParseResult<FaultSet> {
  const r = faultSetSchema.safeParse(input);
  if (!r.success) {
    return { ok: false, errors: r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`) };
  }
  const rules = r.data.rules.map((rule, index): CompiledRule => {
    const compiled: CompiledRule = {
      id: rule.id ?? `rule-${index + 1}`,
      match: rule.match,
      action: rule.action.toLowerCase(),
      phase: rule.phase,
      probability: rule.probability,
      parsed: parseAction(rule.action) as FaultAction,
      test: {},
    };
    if (rule.message !== undefined) compiled.message = rule.message;
    if (rule.match.domain) compiled.test.domain = glob(rule.match.domain);
    if (rule.match.rcpt) compiled.test.rcpt = glob(rule.match.rcpt);
    if (rule.match.mailFrom) compiled.test.mailFrom = glob(rule.match.mailFrom);
    return compiled;
  });
  return { ok: true, value: { seed: r.data.seed, rules } };
}

/** The set as the API shows it (no compiled fields). */
export function describeFaultSet(set: FaultSet): { seed: number; rules: Rule[] } {
  return {
    seed: set.seed,
    rules: set.rules.map(({ parsed: _p, test: _t, ...rule }) => rule),
  };
}

export interface MatchContext {
  rcpt: string;
  mailFrom: string;
  run: string | null;
}

export function ruleMatches(rule: CompiledRule, phase: Phase, ctx: MatchContext): boolean {
  if (rule.phase !== phase) return false;
  const domain = ctx.rcpt.slice(ctx.rcpt.lastIndexOf('@') + 1);
  if (rule.test.domain && !rule.test.domain(domain)) return false;
  if (rule.test.rcpt && !rule.test.rcpt(ctx.rcpt)) return false;
  if (rule.test.mailFrom && !rule.test.mailFrom(ctx.mailFrom)) return false;
  if (rule.match.run !== undefined && rule.match.run !== ctx.run) return false;
  return true;
}

/** FNV-1a, 32 bit: a stable hash so a seeded decision depends only on its inputs, never on arrival order. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // final avalanche (murmur3 fmix32) so nearby inputs spread over the whole range
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Whether a probabilistic rule fires for this attempt: the same seed, rule, attempt key and attempt
 * number always give the same answer, so a failing run can be replayed exactly.
 */
export function rollFires(probability: number, seed: number, ruleId: string, attemptKey: string, attempt: number): boolean {
  if (probability >= 1) return true;
  if (probability <= 0) return false;
  return fnv1a(`${seed}\u0000${ruleId}\u0000${attemptKey}\u0000${attempt}`) / 2 ** 32 < probability;
}

import { describe, expect, it } from 'vitest';
import { describeFaultSet, glob, parseFaultSet, rollFires, ruleMatches, type FaultSet } from '../../../sinks/smtp-sink/src/faults/rules.js';

const parsed = (input: unknown): FaultSet => {
  const r = parseFaultSet(input);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.value;
};

describe('parseFaultSet', () => {
  it('fills defaults and names rules', () => {
    const set = parsed({ rules: [{ action: 'tempfail', match: { domain: 'x.test' } }] });
    expect(set.seed).toBe(1);
    expect(describeFaultSet(set).rules).toEqual([{ id: 'rule-1', action: 'tempfail', phase: 'data', probability: 1, match: { domain: 'x.test' } }]);
  });

  it('reports every problem with its path', () => {
    const r = parseFaultSet({ seed: -1, rules: [{ action: 'explode', probability: 2, colour: 'red' }, { action: 'tempfail', phase: 'rcpt', match: { run: 'r1' } }] });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = r.errors.join('\n');
    expect(text).toMatch(/^seed:/m);
    expect(text).toMatch(/^rules\.0\.action: must be one of/m);
    expect(text).toMatch(/^rules\.0\.probability:/m);
    expect(text).toMatch(/colour/);
    expect(text).toMatch(/^rules\.1\.match\.run: match\.run needs the message headers/m);
  });

  it('refuses non-objects', () => {
    expect(parseFaultSet('tempfail').ok).toBe(false);
    expect(parseFaultSet(null).ok).toBe(false);
  });
});

describe('glob', () => {
  it('treats only * and ? as special, case-insensitively', () => {
    expect(glob('*.example.test')('mx.example.test')).toBe(true);
    expect(glob('*.example.test')('example.test')).toBe(false);
    expect(glob('a.b')('axb')).toBe(false);
    expect(glob('(a+)+$')('(a+)+$')).toBe(true);
    expect(glob('B?B@X.TEST')('bob@x.test')).toBe(true);
    expect(glob('*')('')).toBe(true);
    expect(glob('a*b*c')('aXbYc')).toBe(true);
    expect(glob('a*b*c')('aXbY')).toBe(false);
  });
  it('stays linear on patterns that make a regex backtrack: reads of the input grow in proportion to its length', () => {
    // Counts the matcher's reads of the (lower-cased) input instead of timing it: the input's
    // toLowerCase() hands back a proxy that counts every index and length read, and refuses to
    // become a plain string (a RegExp or any other engine would need one, and its steps could
    // not be counted). A budget stops a super-linear matcher early instead of hanging the run.
    const reads = (pattern: string, text: string): number => {
      let count = 0;
      const budget = 40 * text.length + 1000;
      const counted = new Proxy(new String(text), {
        get(target, key) {
          if (key === Symbol.toPrimitive || key === 'toString' || key === 'valueOf') {
            throw new Error('glob converted the input to a string: its steps cannot be counted (is it a RegExp again?)');
          }
          if (key === 'length' || (typeof key === 'string' && /^\d+$/.test(key))) {
            if (++count > budget) throw new Error(`over ${budget} reads for ${text.length} characters: not linear`);
          }
          return Reflect.get(target, key) as unknown;
        },
      });
      const input = { toLowerCase: () => counted } as unknown as string;
      expect(glob(pattern)(input)).toBe(false);
      return count;
    };
    for (const pattern of ['*a*a*a*a*a*a*a*a*a*b', '*aaaaaaaaab', '*?*?*?*?*?*?*?*?*b']) {
      const n = reads(pattern, 'a'.repeat(2000) + '@x.test');
      const twice = reads(pattern, 'a'.repeat(4000) + '@x.test');
      expect(twice / n, `${pattern}: ${n} reads at 2000, ${twice} at 4000`).toBeLessThan(2.2);
    }
  });
});

describe('ruleMatches', () => {
  const set = parsed({
    rules: [
      { id: 'dom', action: 'tempfail', match: { domain: '*.slow.test' } },
      { id: 'who', action: 'permfail', phase: 'rcpt', match: { rcpt: 'bad*@x.test', mailFrom: '*@list.test' } },
      { id: 'run', action: 'slow-10', match: { run: 'r7' } },
    ],
  });
  const [dom, who, run] = set.rules as [FaultSet['rules'][0], FaultSet['rules'][0], FaultSet['rules'][0]];
  it('matches on the recipient domain', () => {
    expect(ruleMatches(dom, 'data', { rcpt: 'a@mx.slow.test', mailFrom: '', run: null })).toBe(true);
    expect(ruleMatches(dom, 'data', { rcpt: 'a@slow.test', mailFrom: '', run: null })).toBe(false);
    expect(ruleMatches(dom, 'rcpt', { rcpt: 'a@mx.slow.test', mailFrom: '', run: null })).toBe(false);
  });
  it('needs every given field to match', () => {
    expect(ruleMatches(who, 'rcpt', { rcpt: 'bad1@x.test', mailFrom: 'l@list.test', run: null })).toBe(true);
    expect(ruleMatches(who, 'rcpt', { rcpt: 'bad1@x.test', mailFrom: 'l@other.test', run: null })).toBe(false);
  });
  it('matches the run exactly', () => {
    expect(ruleMatches(run, 'data', { rcpt: 'a@b.test', mailFrom: '', run: 'r7' })).toBe(true);
    expect(ruleMatches(run, 'data', { rcpt: 'a@b.test', mailFrom: '', run: 'r70' })).toBe(false);
  });
});

describe('rollFires', () => {
  it('is reproducible and close to the probability', () => {
    const fires = (seed: number) => Array.from({ length: 10_000 }, (_, i) => rollFires(0.3, seed, 'r', `msg-${i}`, 1));
    const a = fires(42);
    expect(fires(42)).toEqual(a);
    expect(fires(43)).not.toEqual(a);
    const share = a.filter(Boolean).length / a.length;
    expect(share).toBeGreaterThan(0.27);
    expect(share).toBeLessThan(0.33);
  });
  it('gives each attempt of a message its own roll', () => {
    const rolls = Array.from({ length: 50 }, (_, attempt) => rollFires(0.5, 1, 'r', 'same-message', attempt + 1));
    expect(new Set(rolls).size).toBe(2);
  });
  it('honours 0 and 1 exactly', () => {
    expect(rollFires(0, 1, 'r', 'k', 1)).toBe(false);
    expect(rollFires(1, 1, 'r', 'k', 1)).toBe(true);
  });
});

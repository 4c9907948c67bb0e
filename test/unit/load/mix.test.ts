// The recipient mix: parsing, and seeded sampling that follows the weights and repeats exactly.
import { describe, expect, it } from 'vitest';
import { DEFAULT_MIX, DEFAULT_MIX_NOTES, isAddress, LOCAL_PARTS, MixError, parseMix, RecipientSampler, seededRandom } from '../../../scripts/lib/load/mix.js';

describe('parseMix', () => {
  it('domains, exact addresses and weights; case folded', () => {
    expect(parseMix('Example.test=3, permfail@example.test=1,rcpt-tempfail-2@x.test')).toEqual([
      { key: 'example.test', weight: 3, domain: 'example.test' },
      { key: 'permfail@example.test', weight: 1, address: 'permfail@example.test' },
      { key: 'rcpt-tempfail-2@x.test', weight: 1, address: 'rcpt-tempfail-2@x.test' },
    ]);
  });

  it('the default mix covers plain delivery, the throttled domain and the sink faults, summing to 100', () => {
    const mix = parseMix(DEFAULT_MIX);
    expect(mix.reduce((s, e) => s + e.weight, 0)).toBe(100);
    expect(mix.map((e) => e.key)).toEqual(expect.arrayContaining(['throttled.mailkind.test', 'tempfail-1@example.test', 'tempfail@example.test', 'permfail@example.test']));
    expect(Object.keys(DEFAULT_MIX_NOTES).sort()).toEqual(mix.map((e) => e.key).sort());
  });

  it('refuses what it cannot send to, naming the entry', () => {
    expect(() => parseMix('')).toThrow(MixError);
    expect(() => parseMix('example')).toThrow(/"example" is not a domain/);
    expect(() => parseMix('a b@x.test=1')).toThrow(/"a b@x.test"/);
    expect(() => parseMix('"q"@x.test')).toThrow(MixError);
    expect(() => parseMix('x.test=1,x.test=2')).toThrow(/twice/);
    expect(() => parseMix('x.test=0,y.test=0')).toThrow(/every weight/);
    expect(() => parseMix('x.test=-1')).toThrow(/weight/);
    expect(isAddress('.dot@x.test')).toBe(false);
    expect(isAddress('a.b+tag@x.test')).toBe(true);
  });
});

describe('RecipientSampler', () => {
  const mix = parseMix('a.test=70,b.test=20,permfail@c.test=10,never@d.test=0');
  const draw = (seed: number, n: number) => {
    const s = new RecipientSampler(mix, seed);
    return Array.from({ length: n }, () => s.next());
  };

  it('the same seed gives the same recipients; another seed others', () => {
    expect(draw(42, 200)).toEqual(draw(42, 200));
    expect(draw(43, 200)).not.toEqual(draw(42, 200));
    // pinned: a change of algorithm changes every recorded run's recipients, so it must be deliberate
    expect(draw(1, 3).map((p) => p.address)).toMatchInlineSnapshot(`
      [
        "rcpt3@a.test",
        "rcpt982@a.test",
        "permfail@c.test",
      ]
    `);
  });

  it('follows the weights; a zero weight is never drawn; domains get rcpt<k> local parts', () => {
    const picks = draw(7, 100_000);
    const share = (i: number) => picks.filter((p) => p.entry === i).length / picks.length;
    expect(share(0)).toBeCloseTo(0.7, 2);
    expect(share(1)).toBeCloseTo(0.2, 2);
    expect(share(2)).toBeCloseTo(0.1, 2);
    expect(share(3)).toBe(0);
    for (const p of picks.slice(0, 1000)) {
      if (p.entry === 2) expect(p.address).toBe('permfail@c.test');
      else expect(p.address).toMatch(/^rcpt\d+@[ab]\.test$/);
    }
    const locals = new Set(picks.filter((p) => p.entry === 0).map((p) => Number(/\d+/.exec(p.address)?.[0])));
    expect(Math.min(...locals)).toBe(1);
    expect(Math.max(...locals)).toBe(LOCAL_PARTS);
  });

  it('seededRandom is uniform enough on [0, 1)', () => {
    const r = seededRandom(99);
    const buckets = new Array<number>(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = r();
      if (x < 0 || x >= 1) outside++;
      else buckets[Math.floor(x * 10)]!++;
    }
    expect(outside).toBe(0);
    for (const b of buckets) expect(b / 10_000).toBeCloseTo(1, 1);
  });
});

import { describe, expect, it } from 'vitest';
import { FaultEngine } from '../../../sinks/smtp-sink/src/faults/engine.js';
import { parseFaultSet } from '../../../sinks/smtp-sink/src/faults/rules.js';

const data = (rcpt: string[], messageKey = 'm1', run: string | null = null) => ({ messageKey, mailFrom: 'from@x.test', rcptTo: rcpt, run });

/** One DATA attempt, settled the way the SMTP server settles it. */
function deliver(engine: FaultEngine, a: ReturnType<typeof data>) {
  const d = engine.onData(a);
  engine.settle(d, d.verdict.kind === 'accept');
  return d;
}

describe('FaultEngine', () => {
  it('accepts ordinary mail at the first attempt and remembers nothing of it', () => {
    const e = new FaultEngine();
    expect(deliver(e, data(['a@x.test']))).toMatchObject({ verdict: { kind: 'accept' }, attempt: 1, fault: null });
    expect(deliver(e, data(['a@x.test']))).toMatchObject({ attempt: 1 });
  });

  it('tempfail-2 refuses two attempts of the same message, then accepts the third', () => {
    const e = new FaultEngine();
    const codes = [1, 2, 3].map(() => deliver(e, data(['tempfail-2+t@x.test'])));
    expect(codes.map((d) => d.verdict.kind)).toEqual(['reply', 'reply', 'accept']);
    expect(codes.map((d) => d.attempt)).toEqual([1, 2, 3]);
    expect(codes[0]?.fault).toBe('local:tempfail-2');
  });

  it('counts each message separately', () => {
    const e = new FaultEngine();
    deliver(e, data(['tempfail-1@x.test'], 'm1'));
    expect(deliver(e, data(['tempfail-1@x.test'], 'm2')).verdict.kind).toBe('reply');
    expect(deliver(e, data(['tempfail-1@x.test'], 'm1')).verdict.kind).toBe('accept');
  });

  it('a refused recipient refuses the whole SMTP transaction, and all recipients count the attempt', () => {
    const e = new FaultEngine();
    const d = deliver(e, data(['ok@x.test', 'permfail@x.test']));
    expect(d.verdict).toMatchObject({ kind: 'reply', code: 550 });
    expect(deliver(e, data(['ok@x.test'])).attempt).toBe(2);
  });

  it('RCPT-time faults count per sender and recipient', () => {
    const e = new FaultEngine();
    expect(e.onRcpt('f@x.test', 'rcpt-tempfail-1@x.test').verdict).toMatchObject({ kind: 'reply', code: 451 });
    expect(e.onRcpt('f@x.test', 'rcpt-tempfail-1@x.test').verdict.kind).toBe('accept');
    expect(e.onRcpt('f@x.test', 'tempfail@x.test').verdict.kind).toBe('accept'); // a DATA fault, not a RCPT one
  });

  it('applies runtime rules in order after local-part faults, and counts hits', () => {
    const e = new FaultEngine();
    const r = parseFaultSet({
      rules: [
        { id: 'run-slow', action: 'slow-5', match: { run: 'r1' } },
        { id: 'dom', action: 'code-421', match: { domain: 'x.test' } },
      ],
    });
    if (!r.ok) throw new Error(r.errors.join());
    e.faultSet = r.value;
    expect(deliver(e, data(['a@x.test'], 'm1', 'r1')).verdict).toEqual({ kind: 'accept', delayMs: 5 });
    expect(deliver(e, data(['a@x.test'], 'm2', 'r2')).verdict).toMatchObject({ kind: 'reply', code: 421 });
    expect(deliver(e, data(['permfail@x.test'], 'm3')).fault).toBe('local:permfail');
    expect(deliver(e, data(['a@y.test'], 'm4')).verdict.kind).toBe('accept');
    expect(e.hits()).toEqual({ 'run-slow': 1, dom: 1 });
  });

  it('a seeded probabilistic rule decides the same way twice', () => {
    const run = () => {
      const e = new FaultEngine();
      const r = parseFaultSet({ seed: 7, rules: [{ action: 'tempfail', probability: 0.5 }] });
      if (!r.ok) throw new Error();
      e.faultSet = r.value;
      return Array.from({ length: 200 }, (_, i) => deliver(e, data(['a@x.test'], `m${i % 50}`)).verdict.kind);
    };
    const first = run();
    expect(run()).toEqual(first);
    expect(first).toContain('accept');
    expect(first).toContain('reply');
  });

  it('stays within its memory bound', () => {
    const e = new FaultEngine(100);
    for (let i = 0; i < 1000; i++) deliver(e, data(['tempfail@x.test'], `m${i}`));
    // the oldest refused messages were forgotten: m0 starts over at attempt 1
    expect(deliver(e, data(['tempfail@x.test'], 'm0')).attempt).toBe(1);
    expect(deliver(e, data(['tempfail@x.test'], 'm999')).attempt).toBe(2);
  });
});

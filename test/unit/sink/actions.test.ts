import { describe, expect, it } from 'vitest';
import { formatAction, localPartFault, parseAction, verdictFor } from '../../../sinks/smtp-sink/src/faults/actions.js';

describe('parseAction', () => {
  it.each([
    ['tempfail', { kind: 'tempfail' }],
    ['PERMFAIL', { kind: 'permfail' }],
    ['disconnect', { kind: 'disconnect' }],
    ['tempfail-3', { kind: 'tempfail-n', n: 3 }],
    ['slow-250', { kind: 'slow', ms: 250 }],
    ['code-452', { kind: 'code', code: 452 }],
  ])('%s', (spec, action) => {
    expect(parseAction(spec)).toEqual(action);
    expect(formatAction(parseAction(spec)!)).toBe(spec.toLowerCase());
  });

  it.each(['', 'bob', 'tempfail-0', 'code-250', 'code-600', 'slow-600001', 'tempfail-', 'slow-x', 'permfail-2'])('rejects %j', (spec) => {
    expect(parseAction(spec)).toBeNull();
  });
});

describe('localPartFault', () => {
  it('reads the local part, ignoring +tags and case, at DATA by default', () => {
    expect(localPartFault('TempFail-2+run42@example.test')).toEqual({ phase: 'data', action: { kind: 'tempfail-n', n: 2 } });
  });
  it('moves to RCPT with the rcpt- prefix', () => {
    expect(localPartFault('rcpt-permfail@example.test')).toEqual({ phase: 'rcpt', action: { kind: 'permfail' } });
  });
  it('leaves ordinary addresses alone, including ones that merely look similar', () => {
    for (const a of ['alice@example.test', 'tempfailure@example.test', 'x-tempfail@example.test', 'slow@example.test']) {
      expect(localPartFault(a), a).toBeNull();
    }
  });
  it('the domain plays no part', () => {
    expect(localPartFault('bob@tempfail.test')).toBeNull();
  });
});

describe('verdictFor', () => {
  it('tempfail-n refuses exactly the first n attempts', () => {
    const a = { kind: 'tempfail-n', n: 2 } as const;
    expect(verdictFor(a, 1)).toMatchObject({ kind: 'reply', code: 451 });
    expect(verdictFor(a, 2)).toMatchObject({ kind: 'reply', code: 451 });
    expect(verdictFor(a, 3)).toBeNull();
  });
  it('maps each action to its reply', () => {
    expect(verdictFor({ kind: 'tempfail' }, 9)).toMatchObject({ kind: 'reply', code: 451 });
    expect(verdictFor({ kind: 'permfail' }, 1)).toMatchObject({ kind: 'reply', code: 550 });
    expect(verdictFor({ kind: 'code', code: 421 }, 1)).toMatchObject({ kind: 'reply', code: 421 });
    expect(verdictFor({ kind: 'slow', ms: 20 }, 1)).toEqual({ kind: 'accept', delayMs: 20 });
    expect(verdictFor({ kind: 'disconnect' }, 1)).toEqual({ kind: 'disconnect' });
  });
  it('uses a custom text when given', () => {
    expect(verdictFor({ kind: 'tempfail' }, 1, 'greylisted')).toEqual({ kind: 'reply', code: 451, message: 'greylisted' });
  });
});

// The live view on a terminal of unknown size (rows and columns 0): log-update, given the real
// stream, prints nothing; given sizedStream, the whole view.
import { createLogUpdate } from 'log-update';
import { describe, expect, it } from 'vitest';
import { sizedStream } from '../../../scripts/lib/load/terminal.js';

function fakeTty(rows: number, columns: number) {
  const out: string[] = [];
  return { out, stream: { rows, columns, write: (s: string) => (out.push(s), true) } };
}

const strip = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''); // eslint-disable-line no-control-regex

describe('the load live view on a terminal of unknown size', () => {
  it('log-update alone prints nothing when the terminal reports 0 rows (the cause)', () => {
    const t = fakeTty(0, 0);
    createLogUpdate(t.stream as unknown as NodeJS.WriteStream)('sent/s 100\naccepted 42');
    expect(strip(t.out.join(''))).not.toContain('accepted 42');
  });

  it('through sizedStream it prints every line, at 80 columns', () => {
    const t = fakeTty(0, 0);
    const s = sizedStream(t.stream);
    expect([s.rows, s.columns]).toEqual([24, 80]);
    createLogUpdate(s as unknown as NodeJS.WriteStream)('sent/s 100\naccepted 42');
    expect(strip(t.out.join(''))).toContain('sent/s 100\naccepted 42');
    const known = sizedStream(fakeTty(50, 132).stream);
    expect([known.rows, known.columns]).toEqual([50, 132]);
  });
});

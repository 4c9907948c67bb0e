import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { collect, type Collected } from '../../../sinks/smtp-sink/src/smtp/collector.js';

function run(chunks: string[], keepRawUpTo: number): Promise<Collected> {
  const stream = new PassThrough();
  const done = new Promise<Collected>((resolve, reject) => collect(stream, keepRawUpTo, (err, msg) => (err || !msg ? reject(err ?? new Error('no message')) : resolve(msg))));
  for (const c of chunks) stream.write(c);
  stream.end();
  return done;
}

describe('collect', () => {
  it('finds the header block across chunks and keeps the raw message when asked', async () => {
    const m = await run(['Subject: a\r\nX-Mail', 'kind-Run: r\r\n\r\nbody\r\n'], 1000);
    expect(m.headerBlock).toBe('Subject: a\r\nX-Mailkind-Run: r');
    expect(m.raw?.toString()).toBe('Subject: a\r\nX-Mailkind-Run: r\r\n\r\nbody\r\n');
  });
  it('holds no raw bytes of a message over the limit', async () => {
    const m = await run(['Subject: big\r\n\r\n', 'x'.repeat(100), 'x'.repeat(100)], 50);
    expect(m.size).toBe(216);
    expect(m.raw).toBeNull();
  });
  it('reports a stream that breaks off', async () => {
    const stream = new PassThrough();
    const done = new Promise((resolve) => collect(stream, 0, (err) => resolve(err)));
    stream.write('Subject: half');
    stream.destroy(new Error('gone'));
    await expect(done).resolves.toMatchObject({ message: 'gone' });
  });
});

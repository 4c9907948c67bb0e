// `npm run load` flags: defaults from settings.ts, every bad value a UsageError (exit 2) naming the flag.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../scripts/lib/cli/errors.js';
import { parseDuration, parseHttpTarget, parseLoadArgs, parseRate, parseSize, parseSmtpTarget } from '../../../scripts/lib/load/options.js';
import { parseMix } from '../../../scripts/lib/load/mix.js';
import { PORTS } from '../../../scripts/lib/config/settings.js';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseLoadArgs(argv, env, () => 0.5);

function usage(argv: string[]): UsageError {
  try {
    parse(argv);
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  throw new Error(`no UsageError for ${argv.join(' ')}`);
}

describe('load options', () => {
  it('defaults: SMTP to 127.0.0.1:2587 (the relay port), 1000 messages at 100/s, the documented mix', () => {
    // literals (the load generator's options table in the docs), not the code's own constants: a
    // changed default must fail here instead of moving together with what it is compared with
    const c = parse([]);
    expect(c.mode).toBe('smtp');
    expect(c.target).toEqual({ kind: 'smtp', host: '127.0.0.1', port: 2587, label: '127.0.0.1:2587' });
    expect(c.defaultTarget).toBe(true);
    expect(c.rate).toBe(100);
    expect(c.count).toBe(1000);
    expect(c.durationMs).toBeNull();
    expect(c.concurrency).toBe(10);
    expect(c.recipientsPerMessage).toBe(1);
    expect(c.size).toBe(1024);
    expect(c.mix).toEqual(
      parseMix(
        'example.test=45,other.example.test=20,throttled.mailkind.test=15,tempfail-1@example.test=8,tempfail@example.test=4,permfail@example.test=8',
      ),
    );
    expect(c.run).toMatch(/^load-\d{8}-\d{6}-[0-9a-f]{4}$/);
    expect(c.seed).toBe(2 ** 31);
    expect(c.timeoutMs).toBe(30_000);
  });

  it('the default targets follow the settings environment (host and ports)', () => {
    const env = { MAILKIND_HOST: '127.0.0.2', [PORTS.kumoRelay.env]: '12587', [PORTS.kumoHttp.env]: '18000', MAILKIND_STATE_DIR: '/tmp/mk-state' };
    expect(parse([], env).target.label).toBe('127.0.0.2:12587');
    const http = parse(['--mode', 'http'], env);
    expect(http.target).toMatchObject({ kind: 'http', base: 'http://127.0.0.2:18000', label: 'http://127.0.0.2:18000/api/inject/v1' });
    expect(http.secretsPath).toBe('/tmp/mk-state/secrets.json');
  });

  it('reads every flag', () => {
    const c = parse([
      '--target', '127.0.0.1:2525', '--max', '--concurrency', '20', '--duration', '1m30s', '--mix', 'a.test=3,permfail@b.test=1',
      '--recipients-per-message', '4', '--run', 'my-run.1', '--json', '--size', '10k', '--starttls', '--from', 'Me@Example.test', '--seed', '7', '--timeout', '5s',
    ]);
    expect(c).toMatchObject({
      target: { kind: 'smtp', host: '127.0.0.1', port: 2525 },
      defaultTarget: false,
      rate: null,
      concurrency: 20,
      count: null,
      durationMs: 90_000,
      recipientsPerMessage: 4,
      run: 'my-run.1',
      json: true,
      size: 10 * 1024,
      starttls: true,
      from: 'me@example.test',
      seed: 7,
      timeoutMs: 5_000,
    });
    expect(c.mix.map((e) => e.key)).toEqual(['a.test', 'permfail@b.test']);
  });

  it('rates: N, N/s, N/m; a burst of about 50 ms of sends', () => {
    expect(parseRate('250')).toBe(250);
    expect(parseRate('250/s')).toBe(250);
    expect(parseRate('600/m')).toBe(10);
    expect(parseRate('0.5/s')).toBe(0.5);
    expect(parse(['--rate', '1000/s']).burst).toBe(50);
    expect(parse(['--rate', '5']).burst).toBe(1);
    for (const bad of ['0', '-5', 'fast', '10/h', '']) expect(() => parseRate(bad)).toThrow(UsageError);
  });

  it('durations and sizes', () => {
    expect(parseDuration('--duration', '30s')).toBe(30_000);
    expect(parseDuration('--duration', '2m')).toBe(120_000);
    expect(parseDuration('--duration', '500ms')).toBe(500);
    expect(parseDuration('--duration', '1h')).toBe(3_600_000);
    for (const bad of ['30', 'soon', '0s', '']) expect(() => parseDuration('--duration', bad)).toThrow(UsageError);
    expect(parseSize('1024')).toBe(1024);
    expect(parseSize('1m')).toBe(1024 * 1024);
    expect(parseSize('2KiB')).toBe(2048);
    for (const bad of ['12', '1g', 'big', '51m']) expect(() => parseSize(bad)).toThrow(UsageError);
  });

  it('targets: host:port, [v6]:port, smtp://; http URLs with or without the inject path', () => {
    expect(parseSmtpTarget('localhost:2525')).toMatchObject({ host: 'localhost', port: 2525 });
    expect(parseSmtpTarget('[::1]:2525')).toMatchObject({ host: '::1', port: 2525, label: '[::1]:2525' });
    expect(parseSmtpTarget('smtp://mx.test')).toMatchObject({ host: 'mx.test', port: 25 });
    for (const bad of ['127.0.0.1:99999', 'a b:25', 'http://x:1/path', ':25']) expect(() => parseSmtpTarget(bad)).toThrow(UsageError);
    expect(parseHttpTarget('127.0.0.1:8000')).toMatchObject({ base: 'http://127.0.0.1:8000', label: 'http://127.0.0.1:8000/api/inject/v1' });
    expect(parseHttpTarget('http://127.0.0.1:8000/api/inject/v1')).toMatchObject({ base: 'http://127.0.0.1:8000' });
    expect(parseHttpTarget('https://kumo.example.test/prefix/')).toMatchObject({ base: 'https://kumo.example.test/prefix', label: 'https://kumo.example.test/prefix/api/inject/v1' });
    expect(() => parseHttpTarget('http://user:pw@127.0.0.1:8000')).toThrow(/credentials/);
    expect(() => parseHttpTarget('ftp://x')).toThrow(UsageError);
  });

  it('bad input: a UsageError (exit 2) that names the flag', () => {
    expect(usage(['--bogus']).message).toMatch(/unknown option '--bogus'/);
    expect(usage(['--bogus']).code).toBe(2);
    expect(usage(['--rate', '10', '--max']).message).toMatch(/--rate and --max/);
    expect(usage(['--count', '5', '--duration', '5s']).message).toMatch(/--count and --duration/);
    expect(usage(['--mode', 'carrier-pigeon']).message).toMatch(/--mode/);
    expect(usage(['--mode', 'http', '--starttls']).message).toMatch(/--starttls is for --mode smtp/);
    expect(usage(['--concurrency', '0']).message).toMatch(/--concurrency 0: give a whole number from 1 to 1000/);
    expect(usage(['--count', '1.5']).message).toMatch(/--count/);
    expect(usage(['--recipients-per-message', '1001']).message).toMatch(/--recipients-per-message/);
    expect(usage(['--mix', 'example.test=lots']).message).toMatch(/^--mix: "example.test=lots": the weight/);
    expect(usage(['--run', 'has space']).message).toMatch(/--run/);
    expect(usage(['--run', '.hidden']).message).toMatch(/--run/);
    expect(usage(['--from', 'nobody']).message).toMatch(/--from/);
    expect(usage(['--seed', '-1']).message).toMatch(/--seed/);
    expect(usage(['--target', 'nonsense:port']).message).toMatch(/--target/);
  });
});

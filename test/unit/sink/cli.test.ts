import { describe, expect, it } from 'vitest';
import { buildCli, configFromArgs, parseBytes } from '../../../sinks/smtp-sink/src/cli.js';

/** A program that reports errors by throwing, so a test can read them. */
function parse(argv: string[], env: Record<string, string> = {}) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const program = buildCli().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    return configFromArgs(argv, program);
  } finally {
    process.env = saved;
  }
}

describe('sink CLI', () => {
  it('defaults to SMTP 2525 and HTTP 8025 on 127.0.0.1, and the other documented defaults', () => {
    // literals (the sink's options table in the docs), not DEFAULT_CONFIG: a changed default must
    // fail here rather than move together with the constant it is compared with
    expect(parse([])).toEqual({
      host: '127.0.0.1',
      smtpPort: 2525,
      httpPort: 8025,
      hostname: 'smtp-sink.mailkind.test',
      maxMessages: 10_000,
      maxJourneyRecords: 100_000,
      maxAttempts: 50_000,
      maxSize: 25 * 1024 * 1024,
      maxRecipients: 1000,
      maxClients: 1000,
      idleTimeoutMs: 60_000,
      keepBodies: false,
      bodyBudget: 64 * 1024 * 1024,
      starttls: true,
      tlsCert: undefined,
      tlsKey: undefined,
      faultsFile: undefined,
    });
  });
  it('takes flags', () => {
    expect(parse(['--smtp-port', '3525', '--http-port', '9025', '--max-size', '1MiB', '--keep-bodies'])).toMatchObject({
      smtpPort: 3525,
      httpPort: 9025,
      maxSize: 1024 * 1024,
      keepBodies: true,
    });
  });
  it('takes the same settings from SINK_* env, flags winning', () => {
    expect(parse([], { SINK_SMTP_PORT: '4525', SINK_HTTP_PORT: '4026', SINK_KEEP_BODIES: 'false', SINK_STARTTLS: 'no' })).toMatchObject({
      smtpPort: 4525,
      httpPort: 4026,
      keepBodies: false,
      starttls: false,
    });
    expect(parse(['--smtp-port', '5525'], { SINK_SMTP_PORT: '4525' }).smtpPort).toBe(5525);
    expect(parse(['--no-starttls']).starttls).toBe(false);
  });
  it.each([
    [['--smtp-port', '70000'], /not a port number/],
    [['--smtp-port', 'abc'], /not a port number/],
    [['--max-messages', '0'], /positive whole number/],
    [['--max-size', '12 parsecs'], /not a size/],
    [['--tls-cert', 'c.pem'], /go together/],
    [['--smtp-port', '2000', '--http-port', '2000'], /different ports/],
    [['--colour'], /unknown option/],
    [['stray'], /too many arguments/],
  ])('refuses %j with a clear message', (argv, message) => {
    expect(() => parse(argv)).toThrow(message);
  });
});

describe('parseBytes', () => {
  it('reads units', () => {
    expect(parseBytes('512k')).toBe(512 * 1024);
    expect(parseBytes('2 GB')).toBe(2 * 1024 ** 3);
    expect(parseBytes('100')).toBe(100);
  });
});

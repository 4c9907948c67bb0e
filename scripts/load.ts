// npm run load: send mail to the stack (the KumoMTA relay or inject API) or to a local sink at a
// rate, with a recipient mix that includes the sink's fault addresses, and report what happened.
import { createLogUpdate } from 'log-update';
import { HelpShown, isCI } from './lib/cli/common.js';
import { runMain, UserError } from './lib/cli/errors.js';
import { parseLoadArgs, type LoadConfig } from './lib/load/options.js';
import { prepareHttp, probeSmtp, smtpTransport, unreachableFix } from './lib/load/preflight.js';
import { liveView, plainLine, summarize, summaryText } from './lib/load/report.js';
import { runLoad, type Tick, type Transport } from './lib/load/runner.js';
import { sizedStream } from './lib/load/terminal.js';

/** Plain progress lines come less often than the terminal redraw: they pile up in a log. */
const PLAIN_EVERY_MS = 5_000;

interface View {
  tickMs?: number;
  onTick?: (t: Tick) => void;
  done(): void;
}

function makeView(c: LoadConfig): View {
  if (c.json) return { done: () => {} };
  if (process.stderr.isTTY && !isCI()) {
    const log = createLogUpdate(sizedStream(process.stderr) as unknown as NodeJS.WriteStream);
    return { tickMs: 1000, onTick: (t) => log(liveView(c, t)), done: () => log.done() };
  }
  return { tickMs: PLAIN_EVERY_MS, onTick: (t) => process.stderr.write(`${plainLine(c, t)}\n`), done: () => {} };
}

async function prepare(c: LoadConfig): Promise<Transport> {
  if (c.mode === 'smtp') {
    const transport = smtpTransport(c);
    await probeSmtp(c, transport);
    return transport;
  }
  return prepareHttp(c, process.env);
}

function startLine(c: LoadConfig): string {
  const amount = c.count !== null ? `${c.count} message(s)` : `messages for ${c.durationMs! / 1000}s`;
  const pace = c.rate === null ? 'as fast as possible' : `at ${c.rate}/s`;
  return `load: ${amount} ${pace} over ${c.concurrency} ${c.mode === 'smtp' ? 'connection(s)' : 'parallel request(s)'} to ${c.target.label} (${c.mode}), run ${c.run}`;
}

await runMain(async () => {
  let config: LoadConfig;
  try {
    config = parseLoadArgs(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof HelpShown) return 0;
    throw e;
  }
  const transport = await prepare(config);
  const interrupt = new AbortController();
  // first Ctrl-C: stop sending, let the messages in flight finish, print the summary; second: quit
  process.once('SIGINT', () => {
    interrupt.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  const view = makeView(config);
  if (!config.json) process.stderr.write(`${startLine(config)}\n`);
  const startedAt = new Date();
  let result;
  try {
    result = await runLoad({ plan: config, transport, onTick: view.onTick, tickMs: view.tickMs, signal: interrupt.signal });
  } finally {
    view.done();
  }
  const summary = summarize(config, result, startedAt, new Date());
  process.stdout.write(config.json ? `${JSON.stringify(summary, null, 2)}\n` : `${summaryText(summary)}\n`);
  const m = summary.messages;
  if (m.sent > 0 && m.accepted + m.refused['4xx'] + m.refused['5xx'] === 0) {
    const first = Object.values(summary.samples.errors)[0] ?? 'no reply';
    throw new UserError(`no message got a reply from ${config.target.label}: ${first}`, unreachableFix(config));
  }
  return result.interrupted ? 130 : 0;
});

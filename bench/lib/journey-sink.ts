// A sink in its own process for bench/journey.bench.ts, so the posting and SMTP clients do not
// share its event loop (kumod posts from another machine too). argv[2]: journeySliceRecords
// ("Infinity" for the former store-at-once behaviour). Sends {smtpPort, url} once listening.
// Messages: "delay-reset" starts measuring the event loop's delay (node's monitorEventLoopDelay,
// 1 ms resolution), "delay" answers {p50, p99, max} in ms since then, "close" closes and exits.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { sinkConfig } from '../../sinks/smtp-sink/src/config.js';
import { startSink } from '../../sinks/smtp-sink/src/sink.js';

const slice = Number(process.argv[2] ?? 25);
const sink = await startSink(sinkConfig({ smtpPort: 0, httpPort: 0, journeySliceRecords: slice }));
const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
process.send?.({ smtpPort: sink.smtpPort, url: sink.url });
process.on('message', (m) => {
  if (m === 'delay-reset') delay.reset();
  else if (m === 'delay') process.send?.({ p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 });
  else if (m === 'close') void sink.close().then(() => process.exit(0));
});

// A sink in its own process for bench/journey.bench.ts, so the posting and SMTP clients do not
// share its event loop (kumod posts from another machine too). argv[2]: journeySliceRecords
// ("Infinity" for the former store-at-once behaviour). Sends {smtpPort, url} once listening;
// closes on the message "close".
import { sinkConfig } from '../../sinks/smtp-sink/src/config.js';
import { startSink } from '../../sinks/smtp-sink/src/sink.js';

const slice = Number(process.argv[2] ?? 25);
const sink = await startSink(sinkConfig({ smtpPort: 0, httpPort: 0, journeySliceRecords: slice }));
process.send?.({ smtpPort: sink.smtpPort, url: sink.url });
process.on('message', (m) => {
  if (m === 'close') void sink.close().then(() => process.exit(0));
});

// The 4 posting clients of bench/journey.bench.ts in a process of their own (kumod posts from
// elsewhere too), so they do not share an event loop with the sink or with the SMTP client.
// argv: <sink url> <clients> <batches | "until-stopped">. Posts until the count is reached or the
// message "stop" arrives, then sends {batches, recordsPerSecond}.
import { postBatches } from './journey-batch.js';

const [url = '', clients = '4', batches = 'until-stopped'] = process.argv.slice(2);
let stopped = false;
process.on('message', (m) => {
  if (m === 'stop') stopped = true;
});
process.send?.(await postBatches(url, Number(clients), batches === 'until-stopped' ? Infinity : Number(batches), () => stopped));
process.disconnect?.();

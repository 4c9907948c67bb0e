// npm run bench:journey: what the sink's journey side costs, measured here without a cluster, the
// sink's current behaviour side by side with its former one in the same run:
//  1. ingest: kumod-format records (test/fixtures/kumod-records.ts) POSTed in batches of 100, as
//     the policy's hook sends them, from 4 clients at once: records/s;
//  2. SMTP on one connection, alone and while the 4 clients post records flat out: msg/s. "before"
//     stores a POSTed batch in one go (journeySliceRecords: Infinity, the former behaviour);
//     "after" parses and stores it at its turn, in slices with the event loop free between them
//     (the default);
//  3. a journey lookup by Message-ID and by run with 100,000 records in the ring: the indexed
//     lookup (lookupJourneys, what the API runs) beside the former full scan (buildJourneys over
//     both whole rings) on the same data, both in-process; and GET /api/journey over HTTP, with
//     GET /healthz beside it for what HTTP alone costs on this machine.
//  4. the hook's Lua side (when lua5.4 is installed): test/component/kumomta/journey-hook.lua
//     --cost, CPU time per log record of the policy's Lua with the journey hook beside the same
//     records through the hook the stack already has (TSA's), under the policy harness's stand-ins.
// 1 and 2 run in two layouts: everything in this one process (how this bench measured before, when
// the posting clients shared the sink's event loop), and the sink (bench/lib/journey-sink.ts) and
// the posting clients (bench/lib/journey-posters.ts) each in a process of their own, as kumod posts
// from elsewhere. In each, the sides run in rounds before, after, after, before
// (JOURNEY_BENCH_ROUNDS times, default 1), so a machine that gets busier or quieter during the run
// does not favour one side; the figures are means over the rounds.
// It cannot measure what the issue's 0.9x target is about (kumod's delivery rate with the hook on
// and off); that needs `npm run load` through kumod on a real cluster (docs/journey.md,
// "Performance").
// Env: JOURNEY_BENCH_SECONDS (each SMTP and ingest phase, default 4), JOURNEY_BENCH_FILL (records
// in the ring for the lookups, default 100000).
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { sinkConfig } from '../sinks/smtp-sink/src/config.js';
import { buildJourneys } from '../sinks/smtp-sink/src/journey/join.js';
import { lookupJourneys } from '../sinks/smtp-sink/src/journey/lookup.js';
import { startSink } from '../sinks/smtp-sink/src/sink.js';
import { RawSmtp, message } from '../test/helpers/smtp-client.js';
import { BATCH, PER_RUN, postBatches } from './lib/journey-batch.js';

const CLIENTS = 4;
const SECONDS = Number(process.env.JOURNEY_BENCH_SECONDS ?? 4);
const FILL = Number(process.env.JOURNEY_BENCH_FILL ?? 100_000);
const ROUNDS = Number(process.env.JOURNEY_BENCH_ROUNDS ?? 1);

interface Target {
  url: string;
  smtpPort: number;
}

const child = (file: string, args: string[]): ChildProcess =>
  fork(new URL(file, import.meta.url), args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });

type Topology = 'processes' | 'one process';

/** 4 clients post `batches` batches, or until `stop` resolves; records/s. */
async function ingest(topology: Topology, url: string, batches: number | 'until-stopped', stop?: Promise<unknown>): Promise<number> {
  if (topology === 'one process') {
    let stopped = false;
    void stop?.then(() => (stopped = true));
    return (await postBatches(url, CLIENTS, batches === 'until-stopped' ? Infinity : batches, () => stopped)).recordsPerSecond;
  }
  const posters = child('./lib/journey-posters.ts', [url, String(CLIENTS), String(batches)]);
  void stop?.then(() => posters.connected && posters.send('stop'));
  const [result] = (await once(posters, 'message')) as [{ recordsPerSecond: number }];
  await once(posters, 'exit');
  return result.recordsPerSecond;
}

const afterSeconds = (s: number) => new Promise((resolve) => setTimeout(resolve, s * 1000));

/** Messages per second one SMTP connection gets accepted for `seconds`. */
async function smtpRate(sink: Target, seconds: number): Promise<number> {
  const c = await RawSmtp.connect(sink.smtpPort);
  await c.reply();
  await c.command('EHLO bench.test');
  const body = message({ Subject: 'bench', 'Message-ID': '<smtp-bench@bench.test>' });
  let n = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  while (performance.now() < end) {
    if ((await c.send('a@bench.test', ['b@example.test'], body))?.code === 250) n++;
  }
  c.destroy();
  return n / ((performance.now() - started) / 1000);
}

interface Side {
  ingest: number;
  smtpAlone: number;
  smtpDuringIngest: number;
  ingestDuringSmtp: number;
  /** the sink's event loop delay (ms) while SMTP and ingest ran together; its own process only */
  loopP99: number;
  loopMax: number;
}

async function side(slice: number, topology: Topology): Promise<Side> {
  let sink: Target;
  let close: () => Promise<unknown>;
  let proc: ChildProcess | undefined;
  if (topology === 'one process') {
    const running = await startSink(sinkConfig({ smtpPort: 0, httpPort: 0, journeySliceRecords: slice }));
    sink = running;
    close = () => running.close();
  } else {
    const p = child('./lib/journey-sink.ts', [String(slice)]);
    proc = p;
    [sink] = (await once(p, 'message')) as [Target];
    close = async () => {
      p.send('close');
      await once(p, 'exit');
    };
  }
  try {
    await ingest(topology, sink.url, 20); // warm-up
    const alone = await ingest(topology, sink.url, 'until-stopped', afterSeconds(SECONDS));
    const smtpAlone = await smtpRate(sink, SECONDS);
    proc?.send('delay-reset');
    const smtp = smtpRate(sink, SECONDS);
    const [smtpDuringIngest, ingestDuringSmtp] = await Promise.all([smtp, ingest(topology, sink.url, 'until-stopped', smtp)]);
    let loop = { p99: Number.NaN, max: Number.NaN };
    if (proc) {
      proc.send('delay');
      [loop] = (await once(proc, 'message')) as [{ p99: number; max: number }];
    }
    return { ingest: alone, smtpAlone, smtpDuringIngest, ingestDuringSmtp, loopP99: loop.p99, loopMax: loop.max };
  } finally {
    await close();
  }
}

async function timed(fn: () => unknown, n = 21): Promise<{ median: number; max: number }> {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await fn();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return { median: t[Math.floor(n / 2)]!, max: t.at(-1)! };
}

async function lookups() {
  const sink = await startSink(sinkConfig({ smtpPort: 0, httpPort: 0, maxJourneyRecords: FILL }));
  try {
    // more than fills the ring, so it has evicted (and the indexes with it) before the lookups
    const batches = Math.ceil((FILL * 1.1) / BATCH);
    await ingest('processes', sink.url, batches);
    const last = batches - 1;
    const id = `bench-${last - 3}-7@bench.test`;
    const run = `bench-run-${Math.floor(((last - 3) * (BATCH / 2)) / PER_RUN)}`;
    const get = async (q: string) => {
      const res = await fetch(`${sink.url}/api/journey?${q}`);
      const body = (await res.json()) as { total: number };
      if (!res.ok || body.total < 1) throw new Error(`GET /api/journey?${q}: ${res.status}, ${body.total} journeys`);
      return body.total;
    };
    const runTotal = await get(`run=${run}`);
    const scan = (q: { messageId: string } | { run: string }) => buildJourneys(sink.journey.events(), sink.store.attemptRecords(), q);
    const indexed = (q: { messageId: string } | { run: string }) => lookupJourneys(sink.journey, sink.store, q);
    if (JSON.stringify(indexed({ run })) !== JSON.stringify(scan({ run }))) throw new Error('the indexed lookup and the scan disagree');
    return {
      stored: sink.journey.size,
      runTotal,
      idIndexed: await timed(() => indexed({ messageId: id })),
      idScan: await timed(() => scan({ messageId: id })),
      runIndexed: await timed(() => indexed({ run })),
      runScan: await timed(() => scan({ run })),
      idApi: await timed(() => get(`messageId=${encodeURIComponent(id)}`)),
      runApi: await timed(() => get(`run=${run}`)),
      healthz: await timed(async () => (await fetch(`${sink.url}/healthz`)).arrayBuffer()),
    };
  } finally {
    await sink.close();
  }
}

const LUA_RECORDS = 20_000;

/** The Lua side of the hook (see the top of the file), or why it could not be measured. */
function luaCost(): { peer: number; withHook: number; batch: number } | string {
  const root = new URL('..', import.meta.url).pathname;
  const r = spawnSync('lua5.4', [`${root}test/component/kumomta/journey-hook.lua`, `${root}manifests/base/policy/kumomta/init.lua`, '--cost', String(LUA_RECORDS)], {
    encoding: 'utf8',
    // what the pod's environment gives init.lua (as test/component/kumomta/journey-hook.test.ts)
    env: { PATH: process.env.PATH ?? '', POD_NAMESPACE: 'mailkind', KUMO_HTTP_USER: 'inject', KUMO_HTTP_PASSWORD: 'bench', TSA_REPLICAS: '1', RELAY_NETWORKS: '10.244.0.0/16' },
  });
  if (r.error) return `lua5.4 not found (apt-get install lua5.4): ${r.error.message}`;
  try {
    const c = (JSON.parse(r.stdout) as { cost: { peer_us_per_record: number; with_hook_us_per_record: number; send_batch_us_per_record: number } }).cost;
    return { peer: c.peer_us_per_record, withHook: c.with_hook_us_per_record, batch: c.send_batch_us_per_record };
  } catch {
    return `the Lua driver failed: ${r.stderr.trim() || r.stdout.trim()}`;
  }
}

const mean = (xs: Side[], k: keyof Side) => xs.reduce((n, x) => n + x[k], 0) / xs.length;
const avg = (xs: Side[]): Side => ({
  ingest: mean(xs, 'ingest'),
  smtpAlone: mean(xs, 'smtpAlone'),
  smtpDuringIngest: mean(xs, 'smtpDuringIngest'),
  ingestDuringSmtp: mean(xs, 'ingestDuringSmtp'),
  loopP99: mean(xs, 'loopP99'),
  loopMax: mean(xs, 'loopMax'),
});

/** before, after, after, before (ROUNDS times): means per side */
async function compare(topology: Topology): Promise<{ before: Side; after: Side }> {
  const befores: Side[] = [];
  const afters: Side[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    befores.push(await side(Infinity, topology));
    afters.push(await side(25, topology));
    afters.push(await side(25, topology));
    befores.push(await side(Infinity, topology));
  }
  return { before: avg(befores), after: avg(afters) };
}

const TOPOLOGIES: [Topology, string][] = [
  ['one process', "sink, posting clients and SMTP client in one process (how this bench measured before: the posters share the sink's event loop)"],
  ['processes', 'sink, posting clients and SMTP client each in a process of their own (kumod posts from elsewhere)'],
];
const compared: [string, { before: Side; after: Side }][] = [];
for (const [topology, what] of TOPOLOGIES) compared.push([what, await compare(topology)]);
const look = await lookups();
const lua = luaCost();

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(0));
console.log(`journey bench: batches of ${BATCH} records from ${CLIENTS} clients, phases of ${SECONDS} s, ${2 * ROUNDS} rounds per side (means); load average ${loadavg().map((n) => n.toFixed(1)).join(' ')}`);
for (const [what, { before, after }] of compared) {
  console.log('');
  console.log(what);
  console.log('                                     before (batch at once)   after (slices of 25)');
  console.log(`ingest alone, records/s             ${fmt(before.ingest).padStart(22)}   ${fmt(after.ingest).padStart(20)}`);
  console.log(`SMTP alone, msg/s                   ${fmt(before.smtpAlone).padStart(22)}   ${fmt(after.smtpAlone).padStart(20)}`);
  console.log(`SMTP while 4 clients post, msg/s    ${fmt(before.smtpDuringIngest).padStart(22)}   ${fmt(after.smtpDuringIngest).padStart(20)}`);
  console.log(`  ingest meanwhile, records/s       ${fmt(before.ingestDuringSmtp).padStart(22)}   ${fmt(after.ingestDuringSmtp).padStart(20)}`);
  if (Number.isFinite(before.loopP99)) {
    console.log(`  the sink's event loop delay, p99 / max ms ${`${ms(before.loopP99)} / ${ms(before.loopMax)}`.padStart(16)}   ${`${ms(after.loopP99)} / ${ms(after.loopMax)}`.padStart(20)}`);
  }
  const keptBefore = before.smtpDuringIngest / before.smtpAlone;
  const keptAfter = after.smtpDuringIngest / after.smtpAlone;
  console.log(
    `verdict: under ingest SMTP keeps ${(keptAfter * 100).toFixed(0)} % of its idle rate after, ${(keptBefore * 100).toFixed(0)} % before; ` +
      (after.smtpDuringIngest > before.smtpDuringIngest ? `${(after.smtpDuringIngest / Math.max(before.smtpDuringIngest, 1e-9)).toFixed(1)}x the SMTP rate under ingest` : 'the SMTP rate under ingest is NOT better than before') +
      (Number.isFinite(before.loopP99) ? `; the sink's p99 loop delay is ${after.loopP99 < before.loopP99 ? `${(before.loopP99 / after.loopP99).toFixed(1)}x shorter` : 'NOT shorter'}` : ''),
  );
}
console.log('');
const mm = (t: { median: number; max: number }) => `${ms(t.median)} / ${ms(t.max)}`;
console.log(`journey lookup, ${fmt(look.stored)} records in the ring, median / max ms of 21   indexed   former scan`);
console.log(`  by Message-ID (1 message)                               ${mm(look.idIndexed).padStart(12)}   ${mm(look.idScan).padStart(11)}`);
console.log(`  by run (${look.runTotal} messages)                                ${mm(look.runIndexed).padStart(12)}   ${mm(look.runScan).padStart(11)}`);
console.log(`  the API over HTTP (indexed): ?messageId= ${mm(look.idApi)}, ?run= ${mm(look.runApi)}; GET /healthz ${mm(look.healthz)} (HTTP alone, this machine)`);
const faster = (a: { median: number }, b: { median: number }) => (a.median < b.median ? `${Math.round(b.median / a.median)}x faster` : 'NOT faster');
console.log(`verdict: the indexed lookup is ${faster(look.idIndexed, look.idScan)} by Message-ID and ${faster(look.runIndexed, look.runScan)} by run than the scan (medians, same data, in-process)`);
console.log('');
if (typeof lua === 'string') console.log(`the hook's Lua side: not measured: ${lua}`);
else {
  const filter = lua.withHook - lua.peer - lua.batch;
  console.log(`the hook's Lua side only (lua5.4, the policy harness's stand-ins, ${fmt(LUA_RECORDS)} records, CPU time, median of 5 rounds), µs per log record:`);
  console.log(`  without the journey hook (the TSA hook's filter only)   ${lua.peer.toFixed(1)}`);
  console.log(`  with it                                                  ${lua.withHook.toFixed(1)}   (its filter ${filter.toFixed(1)}, its send_batch ${lua.batch.toFixed(1)}: JSON encoded by the harness's pure-Lua json.lua, where kumod uses Rust serde)`);
  console.log(`verdict: the journey hook adds ${(lua.withHook - lua.peer).toFixed(1)} µs of Lua per record here, ${filter.toFixed(1)} µs without the stand-in JSON encoder; kumod's own work per record and the delivery rate need a cluster`);
}

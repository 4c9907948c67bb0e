// Composition root: builds the store, fault engine, SMTP and HTTP servers from a config, starts them,
// and stops them gracefully. Tests start sinks through this, on port 0.
import { readFile } from 'node:fs/promises';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { SinkConfig } from './config.js';
import { FaultEngine } from './faults/engine.js';
import { parseFaultSet } from './faults/rules.js';
import { EventHub } from './http/events.js';
import { createHttpServer } from './http/server.js';
import { createMetrics } from './metrics.js';
import { SinkStore } from './record/store.js';
import { JourneyStore } from './journey/store.js';
import { createSmtpServer } from './smtp/server.js';
import { loadTls, type TlsMaterial } from './smtp/tls.js';

/** A problem the user can fix (port taken, bad file): main prints its message, no stack trace. */
export class SinkStartError extends Error {}

export interface RunningSink {
  config: SinkConfig;
  smtpPort: number;
  httpPort: number;
  /** http://host:port of the API, with loopback for a wildcard bind. */
  url: string;
  store: SinkStore;
  journey: JourneyStore;
  faults: FaultEngine;
  tls: TlsMaterial | null;
  close(): Promise<void>;
}

async function initialFaults(file: string | undefined, faults: FaultEngine): Promise<void> {
  if (!file) return;
  let input: unknown;
  try {
    input = JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (e) {
    throw new SinkStartError(`cannot load fault rules from ${file}: ${(e as Error).message}`);
  }
  const parsed = parseFaultSet(input);
  if (!parsed.ok) throw new SinkStartError(`invalid fault rules in ${file}:\n  ${parsed.errors.join('\n  ')}`);
  faults.faultSet = parsed.value;
}

function listen(target: NetServer, port: number, host: string, what: string, flag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      target.off('listening', onListening);
      if (e.code === 'EADDRINUSE') reject(new SinkStartError(`${what} port ${port} on ${host} is already in use; choose another with ${flag} (or stop what holds it).`));
      else if (e.code === 'EACCES') reject(new SinkStartError(`${what} port ${port} on ${host} needs privileges; use a port >= 1024 with ${flag}.`));
      else if (e.code === 'EADDRNOTAVAIL') reject(new SinkStartError(`cannot bind ${what} to ${host}: no such local address (check --host).`));
      else reject(new SinkStartError(`${what} cannot listen on ${host}:${port}: ${e.message}`));
    };
    const onListening = () => {
      target.off('error', onError);
      resolve((target.address() as AddressInfo).port);
    };
    target.once('error', onError);
    target.once('listening', onListening);
    target.listen(port, host);
  });
}

export async function startSink(config: SinkConfig): Promise<RunningSink> {
  let tls: TlsMaterial | null = null;
  if (config.starttls) {
    try {
      tls = await loadTls(config.tlsCert, config.tlsKey, config.hostname);
    } catch (e) {
      throw new SinkStartError((e as Error).message);
    }
  }
  const store = new SinkStore({ maxMessages: config.maxMessages, maxAttempts: config.maxAttempts, bodyBudget: config.keepBodies ? config.bodyBudget : 0 });
  const faults = new FaultEngine(Math.max(100_000, config.maxMessages * 2));
  await initialFaults(config.faultsFile, faults);
  const journey = new JourneyStore(config.maxJourneyRecords, { sliceRecords: config.journeySliceRecords });
  const events = new EventHub(store, faults, 1000, journey);
  let ready = false;
  const smtp = createSmtpServer({ config, store, faults, tls });
  store.openConnections = () => smtp.openConnections;
  const http = createHttpServer({ store, journey, faults, metrics: createMetrics(store, journey), events, isReady: () => ready });
  // keep-alive sockets from dashboards must not hold a shutdown open
  http.keepAliveTimeout = 5_000;

  const httpPort = await listen(http, config.httpPort, config.host, 'HTTP', '--http-port / SINK_HTTP_PORT');
  let smtpPort: number;
  try {
    smtpPort = await listen(smtp.server, config.smtpPort, config.host, 'SMTP', '--smtp-port / SINK_SMTP_PORT');
  } catch (e) {
    http.close();
    throw e;
  }
  ready = true;
  const apiHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;

  return {
    config,
    smtpPort,
    httpPort,
    url: `http://${apiHost.includes(':') ? `[${apiHost}]` : apiHost}:${httpPort}`,
    store,
    journey,
    faults,
    tls,
    async close() {
      ready = false;
      events.close();
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

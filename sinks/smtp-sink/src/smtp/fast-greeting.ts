// smtp-server pauses 100 ms before every greeting to catch clients that talk too early. For a sink that
// receives a new connection per message, that pause alone caps 20 sessions at ~200 msg/s. This subclass
// performs the same start-up as SMTPServer.connect() + SMTPConnection.init() (smtp-server 3.21) minus
// that pause, and hands each connection to `onConnection` so faults can drop a client's socket.
// test/component/sink/greeting.test.ts fails if an upgrade changes what this relies on.
import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

export class FastGreetingSMTPServer extends SMTPServer {
  readonly #byId = new Map<string, SMTPConnection>();

  constructor(options: SMTPServerOptions) {
    super(options);
  }

  /** Open sockets, including ones about to be refused with 421 (smtp-server calls onClose for those too). */
  readonly #delayed = new Set<NodeJS.Timeout>();

  /** Runs `then` after `ms` (a slow- fault's reply); close() cancels what is still waiting. */
  later(ms: number, then: () => void): void {
    const timer = setTimeout(() => {
      this.#delayed.delete(timer);
      then();
    }, ms);
    this.#delayed.add(timer);
  }

  override close(callback?: () => void): void {
    // a pending slow reply would otherwise hold the process (and a dead session) until it fires
    for (const t of this.#delayed) clearTimeout(t);
    this.#delayed.clear();
    super.close(callback);
  }

  get openConnections(): number {
    return this.#byId.size;
  }

  /** Called from onClose: after STARTTLS the plain socket's close event is not a reliable signal. */
  forget(sessionId: string): void {
    this.#byId.delete(sessionId);
  }

  /** The live connection of a session, to drop it on purpose ("disconnect" fault). */
  connectionOf(sessionId: string): SMTPConnection | undefined {
    return this.#byId.get(sessionId);
  }

  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: ConstructorParameters<typeof SMTPConnection>[2]): void {
    const connection = new SMTPConnection(this, socket, socketOptions);
    this.connections.add(connection);
    this.#byId.set(connection.id, connection);
    socket.once('close', () => this.#byId.delete(connection.id));
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => this._onClientConnect(data));
    connection._setListeners(() => {
      const max = this.options.maxClients;
      if (max && this.connections.size > max) {
        connection.send(421, `${connection.name} Too many connected clients, try again in a moment`, false);
        return;
      }
      connection.connectionReady();
    });
  }
}

// The SMTP side: smtp-server configured as docs/contract.md asks, with handlers that ask the fault engine
// what to do with each attempt and record what happened. Every refusal is an SMTP reply, never a throw.
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { SinkConfig } from '../config.js';
import type { Decision, FaultEngine } from '../faults/engine.js';
import { fnv1a } from '../faults/rules.js';
import { keyHeaders, type KeyHeaders } from '../record/headers.js';
import type { AttemptPhase, SinkStore } from '../record/store.js';
import { collect, type Collected } from './collector.js';
import { FastGreetingSMTPServer } from './fast-greeting.js';
import type { TlsMaterial } from './tls.js';

export interface SmtpDeps {
  config: SinkConfig;
  store: SinkStore;
  faults: FaultEngine;
  tls: TlsMaterial | null;
}

type SmtpError = Error & { responseCode: number };
type Reply = (err?: Error | null, message?: string) => void;

/** What an attempt record says about the message, when the sink knows it. */
interface About {
  messageId: string | null;
  run: string | null;
  attempt: number;
  fault: string | null;
}

const smtpError = (code: number, message: string): SmtpError => Object.assign(new Error(message), { responseCode: code });
const addr = (a: SMTPServerAddress | false | undefined): string => (a ? a.address : '');

export function createSmtpServer({ config, store, faults, tls }: SmtpDeps): FastGreetingSMTPServer {
  const offerTls = config.starttls && tls !== null;

  // Records are built field by field (no spreads): this runs for every message and every refusal.
  const attempt = (session: SMTPServerSession, phase: AttemptPhase, code: number, rcptTo: string[], about: About | null, note: string | null = null): void =>
    store.addAttempt({
      time: Date.now(),
      phase,
      code,
      mailFrom: addr(session.envelope?.mailFrom),
      rcptTo,
      messageId: about?.messageId ?? null,
      run: about?.run ?? null,
      attempt: about?.attempt ?? 1,
      fault: about?.fault ?? null,
      clientAddress: session.remoteAddress,
      note,
    });

  const delay = (ms: number, then: () => void) => {
    store.delayedReplies++;
    server.later(ms, () => {
      store.delayedReplies--;
      then();
    });
  };

  const dropConnection = (session: SMTPServerSession) => server.connectionOf(session.id)?._socket.destroy();

  function onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, reply: Reply): void {
    const rcpt = address.address;
    if (session.envelope.rcptTo.length >= config.maxRecipients) {
      attempt(session, 'rcpt', 452, [rcpt], null, `more than ${config.maxRecipients} recipients`);
      return reply(smtpError(452, `Too many recipients, at most ${config.maxRecipients} per message`));
    }
    const d = faults.onRcpt(addr(session.envelope.mailFrom), rcpt);
    const v = d.verdict;
    if (v.kind === 'accept' && v.delayMs === 0) return reply();
    const about: About = { messageId: null, run: null, attempt: d.attempt, fault: d.fault };
    if (v.kind === 'accept') {
      delay(v.delayMs, () => reply());
    } else if (v.kind === 'reply') {
      attempt(session, 'rcpt', v.code, [rcpt], about);
      reply(smtpError(v.code, v.message));
    } else {
      store.count('disconnected');
      attempt(session, 'rcpt', 0, [rcpt], about, 'connection dropped by fault');
      dropConnection(session);
    }
  }

  function accept(session: SMTPServerSession, rcptTo: string[], msg: Collected, headers: KeyHeaders, d: Decision, about: About, reply: Reply): void {
    // A client that left during a slow- fault never sees the 250: it is not counted as accepted.
    if (!server.connectionOf(session.id)) {
      faults.settle(d, false);
      store.count('aborted');
      attempt(session, 'data', 0, rcptTo, about, 'client left before the reply');
      return;
    }
    const record = store.addMessage({
      id: 0,
      receivedAt: Date.now(),
      mailFrom: addr(session.envelope.mailFrom),
      rcptTo,
      messageId: headers.messageId,
      subject: headers.subject,
      from: headers.from,
      listId: headers.listId,
      run: headers.run,
      size: msg.size,
      tls: Boolean(session.secure),
      tlsProtocol: session.tlsOptions ? (session.tlsOptions.version ?? null) : null,
      clientAddress: session.remoteAddress,
      helo: session.hostNameAppearsAs || null,
      attempt: d.attempt,
      fault: d.fault,
      headerBlock: msg.headerBlock,
      body: msg.raw,
    });
    faults.settle(d, true);
    reply(null, `Ok: queued as sink-${record.id}`);
  }

  function onData(stream: SMTPServerDataStream, session: SMTPServerSession, reply: Reply): void {
    const rcptTo = session.envelope.rcptTo.map((r) => r.address);
    collect(stream, config.keepBodies ? config.maxSize : 0, (err, msg) => {
      if (err || !msg) {
        // The client went away mid-DATA: nothing is recorded as a message, and there is no one to reply to.
        store.count('aborted');
        attempt(session, 'data', 0, rcptTo, null, 'connection closed during DATA');
        return;
      }
      if (stream.sizeExceeded) {
        store.count('oversized');
        attempt(session, 'data', 552, rcptTo, null, `message over ${config.maxSize} bytes`);
        return reply(smtpError(552, `Message exceeds fixed maximum message size ${config.maxSize}`));
      }
      const headers = keyHeaders(msg.headerBlock);
      const messageKey = headers.messageId ?? `headers:${fnv1a(msg.headerBlock).toString(16)}:${msg.size}`;
      const d = faults.onData({ messageKey, mailFrom: addr(session.envelope.mailFrom), rcptTo, run: headers.run });
      const about: About = { messageId: headers.messageId, run: headers.run, attempt: d.attempt, fault: d.fault };
      const v = d.verdict;
      if (v.kind === 'accept') {
        if (v.delayMs === 0) accept(session, rcptTo, msg, headers, d, about, reply);
        else delay(v.delayMs, () => accept(session, rcptTo, msg, headers, d, about, reply));
        return;
      }
      faults.settle(d, false);
      if (v.kind === 'reply') {
        attempt(session, 'data', v.code, rcptTo, about);
        return reply(smtpError(v.code, v.message));
      }
      store.count('disconnected');
      attempt(session, 'data', 0, rcptTo, about, 'connection dropped by fault');
      dropConnection(session);
    });
  }

  const server: FastGreetingSMTPServer = new FastGreetingSMTPServer({
    name: config.hostname,
    banner: 'mailkind smtp-sink',
    size: config.maxSize,
    rejectOversized: true,
    authOptional: true,
    disabledCommands: offerTls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    hideSTARTTLS: !offerTls,
    ...(tls ? { key: tls.key, cert: tls.cert } : {}),
    hideENHANCEDSTATUSCODES: false,
    disableReverseLookup: true,
    maxClients: config.maxClients,
    socketTimeout: config.idleTimeoutMs,
    logger: false,
    onConnect(_session, callback) {
      store.count('connections');
      callback();
    },
    onClose(session) {
      server.forget(session.id);
    },
    onRcptTo,
    onData,
  });

  server.on('error', () => {
    // Per-connection socket errors (resets, TLS failures) end that connection only; the sink goes on.
  });
  return server;
}

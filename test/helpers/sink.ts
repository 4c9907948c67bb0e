// Starts a real sink in-process on free ports for component tests, and gives typed API access.
import { sinkConfig, type SinkConfig } from '../../sinks/smtp-sink/src/config.js';
import { startSink, type RunningSink } from '../../sinks/smtp-sink/src/sink.js';
import type { messageView } from '../../sinks/smtp-sink/src/record/store.js';

export async function startTestSink(overrides: Partial<SinkConfig> = {}): Promise<RunningSink> {
  return startSink(sinkConfig({ smtpPort: 0, httpPort: 0, ...overrides }));
}

export async function api<T = unknown>(sink: RunningSink, path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(sink.url + path, init);
  return { status: res.status, body: await jsonOrText<T>(res) };
}

/** The body as JSON, or as text when it is not JSON (metrics, a raw message, an empty 204). */
export async function jsonOrText<T>(res: Response): Promise<T> {
  const text = await res.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    return text as T;
  }
}

/** A message as GET /api/messages returns it. */
export type ApiMessage = ReturnType<typeof messageView> & { receivedAt: string };

// Starts a real sink in-process on free ports for component tests, and gives typed API access.
import { sinkConfig, type SinkConfig } from '../../sinks/smtp-sink/src/config.js';
import { startSink, type RunningSink } from '../../sinks/smtp-sink/src/sink.js';

export async function startTestSink(overrides: Partial<SinkConfig> = {}): Promise<RunningSink> {
  return startSink(sinkConfig({ smtpPort: 0, httpPort: 0, ...overrides }));
}

export async function api<T = unknown>(sink: RunningSink, path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(sink.url + path, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (metrics, raw message): the text itself
  }
  return { status: res.status, body: body as T };
}

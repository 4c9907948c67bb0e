// The sink's settings: one typed object, built by the CLI (cli.ts) or by tests, with defaults here.

export interface SinkConfig {
  /** Address both listeners bind to. The container sets 0.0.0.0; a laptop keeps loopback. */
  host: string;
  smtpPort: number;
  httpPort: number;
  /** Name in the greeting and EHLO reply. */
  hostname: string;
  /** Ring buffer of recorded messages; counters are kept whatever it drops. */
  maxMessages: number;
  /** Ring buffer of recorded attempts (accepted and refused). */
  maxAttempts: number;
  /** Ring buffer of kumod log records posted to /api/journey/records. */
  maxJourneyRecords: number;
  /**
   * Records of a POSTed batch stored per turn of the event loop, so SMTP is served between slices
   * (journey/store.ts; default 25, no CLI flag). Infinity stores a whole batch at once: what the
   * sink did before, kept for the benchmark's side-by-side figure (bench/journey.bench.ts).
   */
  journeySliceRecords?: number;
  /** SIZE limit in bytes; larger messages are refused with 552 and not recorded. */
  maxSize: number;
  /** RCPT beyond this in one transaction gets 452 (RFC 5321 4.5.3.1.8). */
  maxRecipients: number;
  /** Connections beyond this get 421 at once. */
  maxClients: number;
  /** A client silent for this long is disconnected. */
  idleTimeoutMs: number;
  /** Keep raw messages, oldest dropped first once bodyBudget bytes are held. */
  keepBodies: boolean;
  bodyBudget: number;
  starttls: boolean;
  /** PEM files; when absent a self-signed certificate is generated at start. */
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** JSON file with initial runtime fault rules ({ seed, rules }). */
  faultsFile: string | undefined;
}

export const DEFAULT_CONFIG: SinkConfig = {
  host: '127.0.0.1',
  smtpPort: 2525,
  httpPort: 8025,
  hostname: 'smtp-sink.mailkind.test',
  maxMessages: 10_000,
  maxAttempts: 50_000,
  maxJourneyRecords: 100_000,
  maxSize: 25 * 1024 * 1024,
  maxRecipients: 1000,
  maxClients: 1000,
  idleTimeoutMs: 60_000,
  keepBodies: false,
  bodyBudget: 64 * 1024 * 1024,
  starttls: true,
  tlsCert: undefined,
  tlsKey: undefined,
  faultsFile: undefined,
};

export function sinkConfig(overrides: Partial<SinkConfig> = {}): SinkConfig {
  return { ...DEFAULT_CONFIG, ...overrides };
}

// The e2e suite's configuration: settings.ts names and ports, credentials from env or the secrets
// file, sizes and per-step timeouts, every value overridable by env; errors never show a secret.
import { describe, expect, it } from 'vitest';
import { generateSecrets, serializeSecretsFile } from '../../../scripts/lib/secrets/generate.js';
import { describeConfig, E2eConfigError, resolveE2eConfig, sizeEnvName, timeoutEnvName, TIMEOUT_DEFAULTS, type ReadFile } from '../../e2e/lib/config.js';

const secrets = generateSecrets();
const fileWith = (text: string | null): ReadFile => (path) => (path.endsWith('.mailkind/secrets.json') || path.endsWith('/state/secrets.json') ? text : null);
const noFile: ReadFile = () => null;

/**
 * A secret in every form it could take in a message: raw, JSON- and shell-quoted, URL-encoded
 * (as URL parsing stores a password), form-encoded, base64. A leak in any of them fails.
 */
function expectNoLeak(text: string, secret: string): void {
  const forms = new Set([
    secret,
    JSON.stringify(secret),
    JSON.stringify(secret).slice(1, -1),
    `'${secret}'`,
    `"${secret}"`,
    encodeURIComponent(secret),
    new URLSearchParams({ x: secret }).toString().slice(2),
    Buffer.from(secret).toString('base64'),
  ]);
  for (const form of forms) expect(text, `leaks ${form}`).not.toContain(form);
}

/** Everything an error would print: message, stack, cause chain, own properties. */
const errorText = (e: Error): string => [e.message, String(e.stack), JSON.stringify(e), e.cause instanceof Error ? e.cause.message : JSON.stringify(e.cause ?? null)].join('\n');

function configError(fn: () => unknown): E2eConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof E2eConfigError) return e;
    throw e;
  }
  throw new Error('expected an E2eConfigError');
}

describe('resolveE2eConfig', () => {
  it('defaults: docs/contract.md names and host ports, credentials from the secrets file', () => {
    const c = resolveE2eConfig({}, fileWith(serializeSecretsFile(secrets)));
    expect(c).toMatchObject({
      context: 'kind-mailkind',
      namespace: 'mailkind',
      profile: 'full',
      mailman: true,
      kubectl: 'kubectl',
      smtpHost: '127.0.0.1',
      urls: { kumo: 'http://127.0.0.1:8000', sink: 'http://127.0.0.1:8025', mailman: 'http://127.0.0.1:8001' },
      ports: { kumoInbound: 2525, kumoRelay: 2587 },
      keep: false,
    });
    expect(c.kumoAuth).toMatchObject({ username: 'mailkind', password: secrets['kumomta-http'].password });
    expect(c.mailmanAuth).toMatchObject({ username: 'mailkind', password: secrets['mailman-rest'].password });
    expect(c.kumoAuth?.source).toMatch(/\.mailkind\/secrets\.json$/);
    expect(c.timeouts).toEqual(TIMEOUT_DEFAULTS);
    expect(c.timeouts.preflight).toBe(10_000);
  });

  it('every value can come from the environment (a remote cluster or staging)', () => {
    const c = resolveE2eConfig(
      {
        MAILKIND_CONTEXT: 'staging',
        MAILKIND_NAMESPACE: 'mail-e2e',
        MAILKIND_HOST: '10.1.2.3',
        MAILKIND_PORT_KUMO_RELAY: '1587',
        MAILKIND_PROFILE: 'minimal',
        MAILKIND_KUBECTL: '/opt/bin/kubectl',
        MAILKIND_E2E_SINK_URL: 'https://sink.staging.example/',
        MAILKIND_KUMO_HTTP_USER: 'ci',
        MAILKIND_KUMO_HTTP_PASSWORD: 'from-env',
        MAILKIND_E2E_TIMEOUT_POD_RESTART_MS: '600000',
        MAILKIND_E2E_THROUGHPUT_MESSAGES: '50000',
        MAILKIND_E2E_REPORTS_DIR: '/tmp/r',
        MAILKIND_E2E_KEEP: '1',
      },
      fileWith(serializeSecretsFile(secrets)),
    );
    expect(c).toMatchObject({ context: 'staging', namespace: 'mail-e2e', profile: 'minimal', mailman: false, kubectl: '/opt/bin/kubectl', smtpHost: '10.1.2.3', reportsDir: '/tmp/r', keep: true });
    expect(c.urls).toEqual({ kumo: 'http://10.1.2.3:8000', sink: 'https://sink.staging.example', mailman: 'http://10.1.2.3:8001' });
    expect(c.ports.kumoRelay).toBe(1587);
    expect(c.kumoAuth).toEqual({ username: 'ci', password: 'from-env', source: 'MAILKIND_KUMO_HTTP_USER/MAILKIND_KUMO_HTTP_PASSWORD' });
    expect(c.timeouts.podRestart).toBe(600_000);
    expect(c.sizes.throughputMessages).toBe(50_000);
  });

  it('env variable names follow the step and size names', () => {
    expect(timeoutEnvName('podRestart')).toBe('MAILKIND_E2E_TIMEOUT_POD_RESTART_MS');
    expect(timeoutEnvName('deliver')).toBe('MAILKIND_E2E_TIMEOUT_DELIVER_MS');
    expect(sizeEnvName('throughputConcurrency')).toBe('MAILKIND_E2E_THROUGHPUT_CONCURRENCY');
  });

  it('no secrets file and no env: credentials are left to the preflight (cluster Secrets)', () => {
    const c = resolveE2eConfig({}, noFile);
    expect(c.kumoAuth).toBeNull();
    expect(c.mailmanAuth).toBeNull();
  });

  it('bad values are one clear line, naming the variable and never a secret value', () => {
    expect(configError(() => resolveE2eConfig({ MAILKIND_E2E_TIMEOUT_DELIVER_MS: '0' }, noFile)).message).toBe('MAILKIND_E2E_TIMEOUT_DELIVER_MS="0" is not a positive whole number');
    expect(configError(() => resolveE2eConfig({ MAILKIND_E2E_HTTP_MESSAGES: '1e3' }, noFile)).message).toMatch(/MAILKIND_E2E_HTTP_MESSAGES/);
    expect(configError(() => resolveE2eConfig({ MAILKIND_NAMESPACE: 'Bad_NS' }, noFile)).message).toMatch(/namespace "Bad_NS"/);
    expect(configError(() => resolveE2eConfig({ MAILKIND_E2E_KUMO_URL: 'not a url' }, noFile)).message).toMatch(/MAILKIND_E2E_KUMO_URL="not a url" is not a URL/);
    // a password with characters that URL parsing percent-encodes: neither form may show
    const urlPassword = 'hun@ter 2"x';
    const inUrl = configError(() => resolveE2eConfig({ MAILKIND_E2E_MAILMAN_URL: `http://admin:${encodeURIComponent(urlPassword)}@x:8001` }, noFile));
    expect(inUrl.message).toMatch(/must not contain credentials/);
    expectNoLeak(errorText(inUrl), urlPassword);
    expect(configError(() => resolveE2eConfig({ MAILKIND_KUMO_HTTP_USER: 'only-user' }, noFile)).message).toMatch(/set both MAILKIND_KUMO_HTTP_USER and MAILKIND_KUMO_HTTP_PASSWORD/);
    const tooShort = 'Zq9xK';
    const short = configError(() => resolveE2eConfig({}, fileWith(JSON.stringify({ version: 1, secrets: { 'kumomta-http': { username: 'mailkind', password: tooShort } } }))));
    expect(short.message).toMatch(/kumomta-http\.password: has 5 characters/);
    expectNoLeak(errorText(short), tooShort);
    const badChars = 'Zq9@x/y "quoted" \'single\' p%40ss+more_chars';
    const chars = configError(() => resolveE2eConfig({}, fileWith(JSON.stringify({ version: 1, secrets: { 'kumomta-http': { username: 'mailkind', password: badChars } } }))));
    expect(chars.message).toMatch(/kumomta-http\.password: may only contain/);
    expectNoLeak(errorText(chars), badChars);
  });

  it('describeConfig says where credentials come from, never what they are', () => {
    const c = resolveE2eConfig({}, fileWith(serializeSecretsFile(secrets)));
    const text = describeConfig(c);
    expect(text).toContain('user mailkind (from');
    expectNoLeak(text, secrets['kumomta-http'].password);
    expectNoLeak(text, secrets['mailman-rest'].password);
    expect(describeConfig(resolveE2eConfig({ MAILKIND_PROFILE: 'minimal' }, noFile))).toContain('Mailman: not in this profile');
    // no credentials yet: say where they will come from instead of a bare "(none)"
    const bare = describeConfig(resolveE2eConfig({}, noFile));
    expect(bare).not.toContain('(none)');
    expect(bare).toMatch(/KumoMTA \S+ \(credentials: none in the environment or \S+secrets\.json, read from Secret kumomta-http at preflight\)/);
    // credentials from env may hold any character
    const envPassword = 'p@ss w"rd\'/%';
    const fromEnv = describeConfig(
      resolveE2eConfig({ MAILKIND_KUMO_HTTP_USER: 'ci', MAILKIND_KUMO_HTTP_PASSWORD: envPassword, MAILKIND_MAILMAN_REST_USER: 'ci', MAILKIND_MAILMAN_REST_PASSWORD: envPassword }, noFile),
    );
    expect(fromEnv).toContain('user ci (from MAILKIND_KUMO_HTTP_USER/MAILKIND_KUMO_HTTP_PASSWORD)');
    expectNoLeak(fromEnv, envPassword);
  });
});

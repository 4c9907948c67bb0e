import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALPHABETS, SECRET_SPECS, declaredSecretKeys, type ValueSpec } from '../../scripts/lib/secrets/spec.js';
import {
  SecretsError,
  completeSecrets,
  generateSecrets,
  parseSecretsFile,
  randomString,
  secretObjects,
  serializeSecretsFile,
  type SecretsRecord,
} from '../../scripts/lib/secrets/generate.js';

/**
 * The "## Secrets" table of manifests/README.md (| `name` | `key`, `key` | used by |) as
 * { name: sorted keys }: the document the manifests, the policy and the secrets module agree on.
 */
function readmeSecrets(): Record<string, string[]> {
  const text = readFileSync(new URL('../../manifests/README.md', import.meta.url), 'utf8');
  const section = /^## Secrets\b[^\n]*\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(text)?.[1];
  if (!section) throw new Error('manifests/README.md has no "## Secrets" section');
  const table: Record<string, string[]> = {};
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    // | `name` | `key`, `key` | ... |: header and separator rows have no backticked name
    const name = /^`([^`]+)`$/.exec(cells[1] ?? '')?.[1];
    if (!name) continue;
    table[name] = [...(cells[2] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '').sort();
  }
  return table;
}

/** Every generated (random) value of a record, for "never in an error message" checks. */
function allValues(secrets: SecretsRecord): string[] {
  const values = secrets as Record<string, Record<string, string>>;
  return SECRET_SPECS.flatMap((s) => s.keys.filter((k) => k.value.kind === 'random').map((k) => values[s.name]?.[k.key] ?? ''));
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    if (e instanceof Error) return e;
    throw new Error('threw a non-Error', { cause: e });
  }
  throw new Error('expected a throw');
}

/** The whole printable surface of an error: message, stack, cause chain, own properties. */
function surface(e: Error): string {
  const parts: string[] = [String(e.message), String(e.stack), JSON.stringify(e)];
  let cause: unknown = e.cause;
  while (cause !== undefined) {
    parts.push(cause instanceof Error ? `${cause.message}\n${String(cause.stack)}` : JSON.stringify(cause));
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return parts.join('\n');
}

describe('secret-spec', () => {
  it('declares the Secrets and keys of manifests/README.md', () => {
    const declared = declaredSecretKeys();
    const fromSpec = Object.fromEntries([...declared].map(([n, k]) => [n, [...k].sort()]));
    const fromReadme = readmeSecrets();
    expect(Object.keys(fromReadme).length).toBeGreaterThan(0);
    expect(fromSpec).toEqual(fromReadme);
  });

  it('only uses URL-safe alphabets for random values', () => {
    for (const alphabet of Object.values(ALPHABETS)) {
      expect(alphabet).toMatch(/^[A-Za-z0-9]+$/);
      expect(new Set(alphabet).size).toBe(alphabet.length);
    }
  });
});

describe('randomString', () => {
  it('has the requested length and only alphabet characters', () => {
    for (const length of [1, 16, 32, 64, 200]) {
      const s = randomString(length, ALPHABETS.alnum);
      expect(s).toHaveLength(length);
      expect(s).toMatch(/^[A-Za-z0-9]+$/);
    }
  });

  it('is uniform: bytes past the last full multiple of the alphabet are rejected', () => {
    // 62 * 4 = 248: bytes 248..255 must be skipped, not folded onto 'A'..'H'
    const bytes = [248, 249, 255, 0, 61, 62, 247];
    let i = 0;
    const fake = (n: number) => Uint8Array.from({ length: n }, () => bytes[i++ % bytes.length] ?? 0);
    expect(randomString(4, ALPHABETS.alnum, fake)).toBe('A9A9');
  });

  it('draws every character of the alphabet, roughly evenly', () => {
    const counts = new Map<string, number>();
    const s = randomString(62 * 400, ALPHABETS.alnum);
    for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(250); // expected 400 each; 250 is > 7 sigma below
      expect(n).toBeLessThan(550);
    }
  });

  it('refuses nonsense arguments', () => {
    expect(() => randomString(0, ALPHABETS.alnum)).toThrow(RangeError);
    expect(() => randomString(8, 'a')).toThrow(RangeError);
  });
});

describe('generateSecrets', () => {
  it('fills every declared Secret and key with a value of the declared shape', () => {
    const secrets = generateSecrets() as Record<string, Record<string, string>>;
    for (const s of SECRET_SPECS) {
      expect(Object.keys(secrets[s.name] ?? {}).sort()).toEqual(s.keys.map((k) => k.key).sort());
      for (const k of s.keys) {
        const v = secrets[s.name]?.[k.key];
        const made: ValueSpec = k.value;
        if (made.kind === 'fixed') {
          expect(v).toBe(made.value);
        } else {
          const alphabet: string = ALPHABETS[made.alphabet];
          expect(v).toHaveLength(made.length);
          expect([...(v ?? '')].every((c) => alphabet.includes(c))).toBe(true);
        }
      }
    }
  });

  it('never repeats a random value, within a record or across records', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const record = generateSecrets();
      for (const s of SECRET_SPECS) {
        for (const k of s.keys) {
          if (k.value.kind !== 'random') continue;
          const v = (record as Record<string, Record<string, string>>)[s.name]?.[k.key] ?? '';
          expect(seen.has(v)).toBe(false);
          seen.add(v);
        }
      }
    }
  });

  it('gives Django a SECRET_KEY it accepts (>= 50 characters, >= 5 distinct)', () => {
    const key = generateSecrets()['mailman-web']['secret-key'];
    expect(key.length).toBeGreaterThanOrEqual(50);
    expect(new Set(key).size).toBeGreaterThanOrEqual(5);
  });
});

describe('secrets file', () => {
  it('round-trips through serialize and parse', () => {
    const secrets = generateSecrets();
    const text = serializeSecretsFile(secrets);
    expect(text.endsWith('\n')).toBe(true);
    expect(JSON.parse(text)).toMatchObject({ version: 1 });
    expect(completeSecrets(parseSecretsFile(text)).secrets).toEqual(secrets);
  });

  it('completes an older file: keeps existing values, generates only the missing ones', () => {
    const old = generateSecrets();
    const partial = { 'kumomta-http': old['kumomta-http'], postgres: {} };
    const { secrets, added } = completeSecrets(parseSecretsFile(JSON.stringify({ version: 1, secrets: partial })));
    expect(secrets['kumomta-http']).toEqual(old['kumomta-http']);
    expect(added.sort()).toEqual(
      ['mailman-rest.username', 'mailman-rest.password', 'mailman-web.secret-key', 'mailman-web.hyperkitty-api-key', 'postgres.password'].sort(),
    );
    expect(secrets.postgres.password).toHaveLength(32);
  });

  it('lists every problem, and never a value, for a bad file', () => {
    const good = generateSecrets();
    const bad = {
      version: 2,
      extra: true,
      secrets: {
        ...good,
        postgres: { password: `${good.postgres.password}@/x` }, // breaks DATABASE_URL
        'mailman-rest': { username: 'a:b', password: 42, pin: good['mailman-rest'].password },
        'mailman-wbe': { 'secret-key': good['mailman-web']['secret-key'] },
        'kumomta-http': { username: 'mailkind', password: good['kumomta-http'].password.slice(0, 5) },
      },
    };
    const e = thrown(() => parseSecretsFile(JSON.stringify(bad)));
    expect(e).toBeInstanceOf(SecretsError);
    const problems = (e as SecretsError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        'version: expected 1, got 2',
        'extra: unknown top-level field',
        expect.stringMatching(/^mailman-wbe: unknown Secret/),
        expect.stringMatching(/^postgres\.password: may only contain alnum/),
        expect.stringMatching(/^mailman-rest\.username: must be/),
        'mailman-rest.password: expected a string, got number',
        expect.stringMatching(/^mailman-rest\.pin: unknown key/),
        expect.stringMatching(/^kumomta-http\.password: has 5 characters/),
      ]),
    );
    const text = surface(e);
    for (const v of [...allValues(good), `${good.postgres.password}@/x`, good['kumomta-http'].password.slice(0, 5)]) {
      expect(text).not.toContain(v);
    }
  });

  it('does not echo the file when it is not JSON', () => {
    const secret = generateSecrets().postgres.password;
    for (const text of [`{"version":1,"secrets":{"postgres":{"password":"${secret}"}}`, `${secret}`, `{"a": ${secret}}`]) {
      const e = thrown(() => parseSecretsFile(text));
      expect(e).toBeInstanceOf(SecretsError);
      expect(e.message).toBe('secrets file is not valid JSON');
      expect(e.cause).toBeUndefined();
      expect(surface(e)).not.toContain(secret);
    }
  });

  it('refuses to serialize an incomplete record, naming keys only', () => {
    const secrets = generateSecrets();
    const broken = { ...secrets, postgres: {} } as unknown as SecretsRecord;
    const e = thrown(() => serializeSecretsFile(broken));
    expect(e.message).toContain('postgres.password: missing');
    for (const v of allValues(secrets)) expect(surface(e)).not.toContain(v);
  });
});

describe('secretObjects', () => {
  it('builds one Opaque Secret per declared Secret with base64 data', () => {
    const secrets = generateSecrets();
    const objects = secretObjects(secrets, 'mailkind');
    expect(objects.map((o) => o.metadata.name)).toEqual(SECRET_SPECS.map((s) => s.name));
    for (const o of objects) {
      expect(o).toMatchObject({ apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { namespace: 'mailkind' } });
      expect(o.stringData).toBeUndefined();
      const spec = SECRET_SPECS.find((s) => s.name === o.metadata.name);
      expect(Object.keys(o.data ?? {}).sort()).toEqual(spec?.keys.map((k) => k.key).sort());
      for (const [key, b64] of Object.entries(o.data ?? {})) {
        expect(b64).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
        const plain = (secrets as Record<string, Record<string, string>>)[o.metadata.name]?.[key];
        expect(Buffer.from(b64, 'base64').toString('utf8')).toBe(plain);
      }
    }
  });

  it('can use stringData (Tilt path) in any valid namespace', () => {
    const secrets = generateSecrets();
    const objects = secretObjects(secrets, 'team-a-mail', { encoding: 'stringData' });
    expect(objects.find((o) => o.metadata.name === 'postgres')?.stringData).toEqual({ password: secrets.postgres.password });
    expect(objects.every((o) => o.data === undefined && o.metadata.namespace === 'team-a-mail')).toBe(true);
  });

  it('refuses an invalid namespace or an incomplete record without leaking values', () => {
    const secrets = generateSecrets();
    expect(() => secretObjects(secrets, 'Not_A_Namespace')).toThrow(SecretsError);
    const e = thrown(() => secretObjects({ ...secrets, 'mailman-web': { 'secret-key': 'Zq9shortX' } } as unknown as SecretsRecord, 'mailkind'));
    expect(e.message).toContain('mailman-web.hyperkitty-api-key: missing');
    expect(e.message).toContain('mailman-web.secret-key: has 9 characters');
    for (const v of [...allValues(secrets), 'Zq9shortX']) expect(surface(e)).not.toContain(v);
  });
});

// Generated credentials: make them, read and write the secrets file, turn them into Kubernetes
// Secret objects. Pure functions (no file or cluster access): the bootstrap writes the file
// (mode 0600, git-ignored) and applies the objects; the Tilt path applies the same objects.
//
// Rule for every error thrown here: it names the Secret and key, never a value, so a failing
// `up` can print its error in CI logs without leaking a credential.
import { randomBytes } from 'node:crypto';
import {
  ALPHABETS,
  SECRET_SPECS,
  type SecretKeyOf,
  type SecretName,
  type SecretSpec,
  type ValueSpec,
} from './spec.js';

/** Every generated value, by Secret name and key. */
export type SecretsRecord = { [N in SecretName]: { [K in SecretKeyOf<N>]: string } };

/** What a secrets file may hold: some Secrets or keys can be missing (an older file). */
export type PartialSecrets = { [N in SecretName]?: { [K in SecretKeyOf<N>]?: string } };

/** Source of random bytes; node:crypto's randomBytes unless a test injects one. */
export type RandomSource = (size: number) => Uint8Array;

export const SECRETS_FILE_VERSION = 1;

/** A secrets-file or secrets-record problem. `problems` lists every one; none holds a value. */
export class SecretsError extends Error {
  readonly problems: readonly string[];
  constructor(summary: string, problems: readonly string[]) {
    super(problems.length > 0 ? `${summary}:\n  - ${problems.join('\n  - ')}` : summary);
    this.name = 'SecretsError';
    this.problems = problems;
  }
}

const specs: readonly SecretSpec[] = SECRET_SPECS;

/**
 * `length` characters drawn uniformly from `alphabet`. Rejection sampling: bytes at or above the
 * largest multiple of the alphabet size are discarded, so no character is more likely than another.
 */
export function randomString(length: number, alphabet: string, random: RandomSource = randomBytes): string {
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`length must be a positive integer, got ${length}`);
  if (alphabet.length < 2 || alphabet.length > 256) throw new RangeError(`alphabet must have 2..256 characters, got ${alphabet.length}`);
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    const bytes = random(Math.max(16, (length - out.length) * 2));
    for (const b of bytes) {
      if (b >= limit) continue;
      out += alphabet[b % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

function makeValue(spec: ValueSpec, random: RandomSource): string {
  return spec.kind === 'fixed' ? spec.value : randomString(spec.length, ALPHABETS[spec.alphabet], random);
}

/** A complete, freshly generated record: every declared Secret and key. */
export function generateSecrets(random: RandomSource = randomBytes): SecretsRecord {
  return completeSecrets({}, random).secrets;
}

/**
 * Keeps every value already present and generates the missing ones (a file written before a key
 * was added to secret-spec.ts). `added` lists them as `secret.key`.
 */
export function completeSecrets(
  partial: PartialSecrets,
  random: RandomSource = randomBytes,
): { secrets: SecretsRecord; added: string[] } {
  const added: string[] = [];
  const out: Record<string, Record<string, string>> = {};
  const given = partial as Record<string, Record<string, string | undefined> | undefined>;
  for (const s of specs) {
    const values: Record<string, string> = {};
    for (const k of s.keys) {
      const existing = given[s.name]?.[k.key];
      if (existing !== undefined) {
        values[k.key] = existing;
      } else {
        values[k.key] = makeValue(k.value, random);
        added.push(`${s.name}.${k.key}`);
      }
    }
    out[s.name] = values;
  }
  return { secrets: out as SecretsRecord, added };
}

/** Characters allowed in a fixed value (user names): they go into basic auth, so no ':'. */
const FIXED_VALUE = /^[A-Za-z0-9._-]{1,64}$/;
/** A hand-edited random value may differ in length, but not below this. */
const MIN_RANDOM_LENGTH = 16;

/** Problems with one value, described without the value. */
function valueProblems(where: string, spec: ValueSpec, value: unknown): string[] {
  if (typeof value !== 'string') return [`${where}: expected a string, got ${value === null ? 'null' : typeof value}`];
  if (spec.kind === 'fixed') {
    return FIXED_VALUE.test(value) ? [] : [`${where}: must be 1-64 characters of A-Z a-z 0-9 . _ -`];
  }
  const problems: string[] = [];
  const alphabet: string = ALPHABETS[spec.alphabet];
  if (value.length < Math.min(MIN_RANDOM_LENGTH, spec.length)) {
    problems.push(`${where}: has ${value.length} characters, needs at least ${Math.min(MIN_RANDOM_LENGTH, spec.length)} (generated ones have ${spec.length})`);
  }
  if ([...value].some((c) => !alphabet.includes(c))) {
    problems.push(`${where}: may only contain ${spec.alphabet} characters (it is used unescaped in URLs and config files)`);
  }
  return problems;
}

/** Every problem of a full or partial record; `requireAll` also reports missing keys. */
export function secretsProblems(record: unknown, requireAll: boolean): string[] {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return ['secrets: expected an object'];
  const rec = record as Record<string, unknown>;
  const problems: string[] = [];
  for (const name of Object.keys(rec)) {
    if (!specs.some((s) => s.name === name)) problems.push(`${name}: unknown Secret (declared: ${specs.map((s) => s.name).join(', ')})`);
  }
  for (const s of specs) {
    const entry = rec[s.name];
    if (entry === undefined) {
      if (requireAll) problems.push(`${s.name}: missing`);
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${s.name}: expected an object of keys`);
      continue;
    }
    const values = entry as Record<string, unknown>;
    for (const key of Object.keys(values)) {
      if (!s.keys.some((k) => k.key === key)) problems.push(`${s.name}.${key}: unknown key (declared: ${s.keys.map((k) => k.key).join(', ')})`);
    }
    for (const k of s.keys) {
      if (values[k.key] === undefined) {
        if (requireAll) problems.push(`${s.name}.${k.key}: missing`);
        continue;
      }
      problems.push(...valueProblems(`${s.name}.${k.key}`, k.value, values[k.key]));
    }
  }
  return problems;
}

/** The secrets file: `{ "version": 1, "secrets": { "<secret>": { "<key>": "<value>" } } }`. */
export function serializeSecretsFile(secrets: SecretsRecord): string {
  const problems = secretsProblems(secrets, true);
  if (problems.length > 0) throw new SecretsError('refusing to write an invalid secrets record', problems);
  return `${JSON.stringify({ version: SECRETS_FILE_VERSION, secrets }, null, 2)}\n`;
}

/**
 * Reads a secrets file. Keys missing from an older file are allowed (complete them with
 * `completeSecrets`); anything malformed or unknown is an error listing every problem.
 */
export function parseSecretsFile(text: string): PartialSecrets {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // V8's JSON.parse message quotes the input: never pass it on (nor as `cause`)
    throw new SecretsError('secrets file is not valid JSON', []);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new SecretsError('secrets file: expected a JSON object { "version", "secrets" }', []);
  }
  const { version, secrets, ...rest } = doc as Record<string, unknown>;
  const problems: string[] = [];
  if (version !== SECRETS_FILE_VERSION) {
    problems.push(`version: expected ${SECRETS_FILE_VERSION}, got ${typeof version === 'number' ? version : typeof version}`);
  }
  for (const key of Object.keys(rest)) problems.push(`${key}: unknown top-level field`);
  problems.push(...secretsProblems(secrets, false));
  if (problems.length > 0) throw new SecretsError('invalid secrets file', problems);
  return secrets as PartialSecrets;
}

/** A Kubernetes Secret as applied by the toolkit. */
export interface SecretObject {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  type: 'Opaque';
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export interface SecretObjectOptions {
  /** `data` (base64, the default: what the API server stores) or `stringData` (plain). */
  encoding?: 'data' | 'stringData';
}

/** RFC 1123 label: what Kubernetes accepts as a namespace name. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** One Secret object per declared Secret, in `namespace`, for `kubectl apply` or Tilt's k8s_yaml. */
export function secretObjects(
  secrets: SecretsRecord,
  namespace: string,
  options: SecretObjectOptions = {},
): SecretObject[] {
  if (!NAMESPACE.test(namespace)) throw new SecretsError(`invalid namespace name "${namespace}"`, []);
  const problems = secretsProblems(secrets, true);
  if (problems.length > 0) throw new SecretsError('cannot build Secret objects', problems);
  const encoding = options.encoding ?? 'data';
  const values = secrets as Record<string, Record<string, string>>;
  return specs.map((s) => {
    const entries = s.keys.map((k) => [k.key, values[s.name]?.[k.key] ?? ''] as const);
    const object: SecretObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: s.name,
        namespace,
        labels: { 'app.kubernetes.io/part-of': 'mailkind', 'app.kubernetes.io/managed-by': 'mailkind' },
      },
      type: 'Opaque',
    };
    if (encoding === 'data') {
      object.data = Object.fromEntries(entries.map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
    } else {
      object.stringData = Object.fromEntries(entries);
    }
    return object;
  });
}

// The Kubernetes Secrets the stack needs: names, keys and how each value is made. The one place
// these names live in code; manifests/README.md ("Secrets") is the same table for people, and
// test/manifests checks every secretKeyRef in the manifests resolves against this list.
//
// Values are generated on the first `up` (scripts/lib/secrets/generate.ts), kept in a git-ignored file
// with mode 0600 and applied as Secrets by both the npm path and the Tilt path.

/** How one value is produced. */
export type ValueSpec =
  /** a fixed, non-secret value (a user name): stable, so people can type it */
  | { readonly kind: 'fixed'; readonly value: string }
  /** `length` characters drawn uniformly (rejection sampling over node:crypto bytes) from `alphabet` */
  | { readonly kind: 'random'; readonly length: number; readonly alphabet: AlphabetName };

/**
 * Alphabets. Every random value is alphanumeric: it goes unescaped into a URL
 * (postgresql://mailman:<password>@postgres/...), an HTTP basic-auth header, lazr.config and
 * Django settings, none of which then needs quoting.
 */
export const ALPHABETS = {
  alnum: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
} as const;
export type AlphabetName = keyof typeof ALPHABETS;

export interface SecretKeySpec {
  readonly key: string;
  readonly value: ValueSpec;
  readonly description: string;
}

export interface SecretSpec {
  readonly name: string;
  readonly keys: readonly SecretKeySpec[];
  /** who reads it (documentation; manifests/README.md has the same column) */
  readonly usedBy: string;
}

const password = (length: number): ValueSpec => ({ kind: 'random', length, alphabet: 'alnum' });

/** 32 alphanumeric characters: log2(62) * 32 ~ 190 bits. */
const PASSWORD_LENGTH = 32;

export const SECRET_SPECS = [
  {
    name: 'kumomta-http',
    usedBy: 'kumod (basic auth for /api/inject/v1), tests, load',
    keys: [
      { key: 'username', value: { kind: 'fixed', value: 'mailkind' }, description: 'HTTP injection user' },
      { key: 'password', value: password(PASSWORD_LENGTH), description: 'HTTP injection password' },
    ],
  },
  {
    name: 'mailman-rest',
    usedBy: 'mailman-core, mailman-web, tests',
    keys: [
      { key: 'username', value: { kind: 'fixed', value: 'mailkind' }, description: 'Mailman REST admin user' },
      { key: 'password', value: password(PASSWORD_LENGTH), description: 'Mailman REST admin password' },
    ],
  },
  {
    name: 'mailman-web',
    usedBy: 'mailman-web, mailman-core (archiver key)',
    keys: [
      // Django wants >= 50 characters and >= 5 distinct ones
      { key: 'secret-key', value: password(64), description: "Django SECRET_KEY of Postorius/HyperKitty" },
      { key: 'hyperkitty-api-key', value: password(PASSWORD_LENGTH), description: 'shared key core -> HyperKitty archiver' },
    ],
  },
  {
    name: 'postgres',
    usedBy: 'postgres, mailman-core, mailman-web (user mailman, database mailman)',
    keys: [{ key: 'password', value: password(PASSWORD_LENGTH), description: 'password of the postgres user mailman' }],
  },
] as const satisfies readonly SecretSpec[];

export type SecretName = (typeof SECRET_SPECS)[number]['name'];

/** The keys of one Secret, as a type: SecretKeyOf<'postgres'> is 'password'. */
export type SecretKeyOf<N extends SecretName> = Extract<(typeof SECRET_SPECS)[number], { name: N }>['keys'][number]['key'];

/** Every Secret name and its keys, e.g. for cross-reference checks. */
export function declaredSecretKeys(): Map<string, Set<string>> {
  return new Map(SECRET_SPECS.map((s) => [s.name, new Set<string>(s.keys.map((k) => k.key))]));
}

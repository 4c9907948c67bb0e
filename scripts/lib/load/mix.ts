// The recipient mix: weighted entries, each a domain (random local parts) or one exact address
// (a fault address of the sink, e.g. tempfail-1@example.test). Sampling is seeded, so the same
// seed gives the same recipients in the same order.

export interface MixEntry {
  /** as given: "example.test" or "permfail@example.test" */
  key: string;
  weight: number;
  /** set for a domain entry: recipients are rcpt<k>@domain */
  domain?: string;
  /** set for an address entry: every recipient is this address */
  address?: string;
}

/** Weights sum to 100, so they read as percentages. */
export const DEFAULT_MIX =
  'example.test=45,other.example.test=20,throttled.mailkind.test=15,tempfail-1@example.test=8,tempfail@example.test=4,permfail@example.test=8';

/** What each default entry is for (docs/load.md and --help). */
export const DEFAULT_MIX_NOTES: Record<string, string> = {
  'example.test': 'plain delivery',
  'other.example.test': 'a second destination queue',
  'throttled.mailkind.test': 'the KumoMTA policy caps this domain at 10 msg/s',
  'tempfail-1@example.test': 'the sink refuses the first attempt (451), then accepts: a retry',
  'tempfail@example.test': 'the sink always answers 451: retried until it expires',
  'permfail@example.test': 'the sink answers 550: a bounce',
};

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
// dot-atom (RFC 5322 3.2.3): no quoting, so the address goes into RCPT TO and headers unchanged
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

export function isDomain(s: string): boolean {
  const labels = s.split('.');
  return s.length <= 253 && labels.length >= 2 && labels.every((l) => LABEL.test(l));
}

export function isAddress(s: string): boolean {
  const at = s.lastIndexOf('@');
  return at > 0 && at <= 64 && LOCAL_PART.test(s.slice(0, at)) && isDomain(s.slice(at + 1));
}

export class MixError extends Error {
  override name = 'MixError';
}

/** "domain=weight,local@domain=weight,..." -> entries. Throws MixError naming the bad entry. */
export function parseMix(text: string): MixEntry[] {
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new MixError('the mix is empty: give entries like example.test=90,permfail@example.test=10');
  const seen = new Set<string>();
  const entries = items.map((item): MixEntry => {
    const eq = item.lastIndexOf('=');
    const key = (eq < 0 ? item : item.slice(0, eq)).trim().toLowerCase();
    const weightText = eq < 0 ? '1' : item.slice(eq + 1).trim();
    const weight = Number(weightText);
    if (!/^\d+(\.\d+)?$/.test(weightText) || !Number.isFinite(weight)) throw new MixError(`"${item}": the weight must be a number >= 0 (domain=weight)`);
    if (seen.has(key)) throw new MixError(`"${key}" appears twice in the mix`);
    seen.add(key);
    if (key.includes('@')) {
      if (!isAddress(key)) throw new MixError(`"${key}" is not an address this tool can send to (local@domain, no quotes or spaces)`);
      return { key, weight, address: key };
    }
    if (!isDomain(key)) throw new MixError(`"${key}" is not a domain name`);
    return { key, weight, domain: key };
  });
  if (entries.reduce((s, e) => s + e.weight, 0) <= 0) throw new MixError('every weight in the mix is 0');
  return entries;
}

/** mulberry32: a tiny, fast 32-bit PRNG; plenty for picking recipients, not for secrets. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Distinct local parts per domain entry: enough to look like traffic, few enough to repeat. */
export const LOCAL_PARTS = 1000;

/** The address with a +tag on its local part: a distinct recipient the sink treats the same (it ignores +tags). */
export function withTag(address: string, tag: string): string {
  const at = address.lastIndexOf('@');
  return `${address.slice(0, at)}+${tag}${address.slice(at)}`;
}

export interface Pick {
  address: string;
  /** index into the mix */
  entry: number;
}

export class RecipientSampler {
  readonly #cumulative: number[];
  readonly #total: number;
  readonly #random: () => number;

  constructor(
    readonly entries: readonly MixEntry[],
    seed: number,
  ) {
    let sum = 0;
    this.#cumulative = entries.map((e) => (sum += e.weight));
    this.#total = sum;
    this.#random = seededRandom(seed);
  }

  next(): Pick {
    const x = this.#random() * this.#total;
    // first entry whose cumulative weight exceeds x (zero-weight entries are never picked)
    let lo = 0;
    let hi = this.#cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.#cumulative[mid] ?? 0) > x) hi = mid;
      else lo = mid + 1;
    }
    const entry = this.entries[lo] as MixEntry;
    const address = entry.address ?? `rcpt${1 + Math.floor(this.#random() * LOCAL_PARTS)}@${entry.domain ?? ''}`;
    return { address, entry: lo };
  }
}

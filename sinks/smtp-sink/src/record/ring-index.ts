// The items of a Ring grouped by a key (a Message-ID, a run id), so a lookup reads only the items
// it wants instead of scanning the whole ring. Kept in step with the ring: add() for every push,
// evict() for every item the ring drops, rebuild() after the ring is filtered. A ring drops its
// oldest item, which is also the oldest of its key: eviction takes the bucket's head, O(1).

interface Bucket<T> {
  items: (T | undefined)[];
  head: number;
}

export class RingIndex<T> {
  readonly #buckets = new Map<string, Bucket<T>>();

  constructor(private readonly keyOf: (item: T) => string | null) {}

  /** Distinct keys held. */
  get size(): number {
    return this.#buckets.size;
  }

  add(item: T): void {
    const key = this.keyOf(item);
    if (key === null) return;
    const bucket = this.#buckets.get(key);
    if (bucket) bucket.items.push(item);
    else this.#buckets.set(key, { items: [item], head: 0 });
  }

  evict(item: T): void {
    const key = this.keyOf(item);
    if (key === null) return;
    const b = this.#buckets.get(key);
    if (!b) return;
    if (b.items[b.head] === item) {
      b.items[b.head++] = undefined;
    } else {
      // not the oldest of its key (cannot happen with a FIFO ring): still remove exactly it
      const i = b.items.indexOf(item, b.head);
      if (i < 0) return;
      b.items.splice(i, 1);
    }
    if (b.head >= b.items.length) this.#buckets.delete(key);
    // drop the evicted slots once they are the larger part, so a long-lived key stays compact
    else if (b.head > 32 && b.head * 2 > b.items.length) {
      b.items = b.items.slice(b.head);
      b.head = 0;
    }
  }

  /** The items of a key, oldest first (a copy). */
  get(key: string): T[] {
    const b = this.#buckets.get(key);
    return b ? (b.items.slice(b.head) as T[]) : [];
  }

  clear(): void {
    this.#buckets.clear();
  }

  rebuild(items: Iterable<T>): void {
    this.clear();
    for (const item of items) this.add(item);
  }
}

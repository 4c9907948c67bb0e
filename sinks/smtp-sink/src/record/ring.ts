/** Fixed-capacity FIFO: pushing past capacity overwrites the oldest item. O(1) push, no reallocation. */
export class Ring<T> {
  readonly #items: (T | undefined)[];
  #start = 0;
  #size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be >= 1, got ${capacity}`);
    this.#items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Adds an item; returns the one it evicted, if any. */
  push(item: T): T | undefined {
    const end = (this.#start + this.#size) % this.capacity;
    if (this.#size < this.capacity) {
      this.#items[end] = item;
      this.#size++;
      return undefined;
    }
    const evicted = this.#items[this.#start];
    this.#items[this.#start] = item;
    this.#start = (this.#start + 1) % this.capacity;
    return evicted;
  }

  /** Newest first. */
  *newestFirst(): Generator<T> {
    for (let i = this.#size - 1; i >= 0; i--) yield this.#items[(this.#start + i) % this.capacity] as T;
  }

  /** Oldest first. */
  *oldestFirst(): Generator<T> {
    for (let i = 0; i < this.#size; i++) yield this.#items[(this.#start + i) % this.capacity] as T;
  }

  /** Keeps only the items for which keep() is true, preserving order. */
  retain(keep: (item: T) => boolean): void {
    const kept = [...this.oldestFirst()].filter(keep);
    this.clear();
    for (const item of kept) this.push(item);
  }

  clear(): void {
    this.#items.fill(undefined);
    this.#start = 0;
    this.#size = 0;
  }
}

/** A Map that forgets its oldest entries past a size, for per-key state that must stay bounded. */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly limit: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (this.size >= this.limit && !this.has(key)) {
      const oldest = this.keys().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    return super.set(key, value);
  }
}

/** Accepted messages per second over a sliding window, for the dashboard chart and /api/stats. */
export class RateWindow {
  readonly #buckets: Float64Array;
  #head: number; // epoch second of the newest bucket

  constructor(readonly seconds = 300, now = Date.now()) {
    this.#buckets = new Float64Array(seconds);
    this.#head = Math.floor(now / 1000);
  }

  add(now = Date.now(), n = 1): void {
    this.#advance(Math.floor(now / 1000));
    this.#buckets[this.#head % this.seconds]! += n;
  }

  /** Per-second counts, oldest first, ending with the current (partial) second. */
  series(now = Date.now()): number[] {
    this.#advance(Math.floor(now / 1000));
    const out: number[] = [];
    for (let s = this.#head - this.seconds + 1; s <= this.#head; s++) out.push(this.#buckets[((s % this.seconds) + this.seconds) % this.seconds]!);
    return out;
  }

  /** Mean rate over the last `span` complete seconds. */
  perSecond(span = 10, now = Date.now()): number {
    const s = this.series(now).slice(-span - 1, -1);
    return s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0;
  }

  reset(): void {
    this.#buckets.fill(0);
  }

  #advance(second: number): void {
    if (second <= this.#head) return;
    const gap = Math.min(second - this.#head, this.seconds);
    for (let i = 1; i <= gap; i++) this.#buckets[(this.#head + i) % this.seconds] = 0;
    this.#head = second;
  }
}

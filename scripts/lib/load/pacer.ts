// Rate limiting against a clock: a token bucket in its "virtual scheduling" form (GCRA). Every
// send reserves the next slot of a fixed schedule (start + i / rate), so timer lateness never
// accumulates into drift; after a stall (slow server, busy event loop) at most `burst` sends go out
// at once to catch up, then the schedule resumes.

export interface Clock {
  /** milliseconds, monotonic */
  now(): number;
}

export const realClock: Clock = { now: () => performance.now() };

export class Pacer {
  readonly intervalMs: number;
  readonly #toleranceMs: number;
  #tat: number | undefined;

  /**
   * @param ratePerSecond sends per second (> 0)
   * @param burst how many sends may go out back to back after a stall (>= 1)
   */
  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    readonly clock: Clock = realClock,
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError(`rate must be > 0, got ${ratePerSecond}`);
    if (!(burst >= 1)) throw new RangeError(`burst must be >= 1, got ${burst}`);
    this.intervalMs = 1000 / ratePerSecond;
    this.#toleranceMs = (burst - 1) * this.intervalMs;
  }

  /** Reserves the next slot only if it is due now; true when it did. */
  tryReserve(): boolean {
    const now = this.clock.now();
    const due = Math.max(this.#tat ?? now, now - this.#toleranceMs);
    if (due > now) return false;
    this.#tat = due + this.intervalMs;
    return true;
  }

  /** Reserves the next send slot; returns how many ms from now it is due (0: now). */
  reserve(): number {
    const now = this.clock.now();
    // the theoretical arrival time; never further back than the burst allows
    const due = Math.max(this.#tat ?? now, now - this.#toleranceMs);
    this.#tat = due + this.intervalMs;
    return Math.max(0, due - now);
  }
}

/** A burst that absorbs timer lateness (about 50 ms of sends) without letting a stall flood the target. */
export function defaultBurst(ratePerSecond: number): number {
  return Math.max(1, Math.ceil(ratePerSecond * 0.05));
}

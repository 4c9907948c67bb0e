// Rate scheduling against a fake clock: sends follow start + i / rate, late wake-ups do not drift,
// a stall is caught up by at most `burst` sends.
import { describe, expect, it } from 'vitest';
import { defaultBurst, Pacer, type Clock } from '../../../scripts/lib/load/pacer.js';

class FakeClock implements Clock {
  t = 1_000;
  now(): number {
    return this.t;
  }
}

/** A sender that reserves, "sleeps" until due plus `late` ms, sends, repeats. Returns send times. */
function simulate(p: Pacer, clock: FakeClock, sends: number, late = 0): number[] {
  const times: number[] = [];
  for (let i = 0; i < sends; i++) {
    const wait = p.reserve();
    clock.t += wait > 0 ? wait + late : 0;
    times.push(clock.t);
  }
  return times;
}

describe('Pacer', () => {
  it('spaces sends 1/rate apart from the first', () => {
    const clock = new FakeClock();
    const times = simulate(new Pacer(100, 1, clock), clock, 5);
    expect(times.map((t) => t - 1_000)).toEqual([0, 10, 20, 30, 40]);
  });

  it('late wake-ups do not add up: 1,000 sends at 100/s take 10 s, not 10 s + 1,000 x 3 ms', () => {
    const clock = new FakeClock();
    const p = new Pacer(100, defaultBurst(100), clock);
    const times = simulate(p, clock, 1001, 3);
    // the schedule is kept; each wake-up is only as late as one timer
    expect((times.at(-1) ?? 0) - 1_000).toBeLessThanOrEqual(10_000 + 3);
    expect((times.at(-1) ?? 0) - 1_000).toBeGreaterThanOrEqual(10_000 - 10 * defaultBurst(100));
  });

  it('several senders reserving at the same instant get consecutive slots', () => {
    const clock = new FakeClock();
    const p = new Pacer(50, 1, clock);
    expect([p.reserve(), p.reserve(), p.reserve(), p.reserve()]).toEqual([0, 20, 40, 60]);
  });

  it('after a stall at most `burst` sends go out at once, then the schedule resumes', () => {
    const clock = new FakeClock();
    const p = new Pacer(100, 5, clock);
    simulate(p, clock, 10);
    clock.t += 2_000; // the target hung for two seconds
    const waits = Array.from({ length: 8 }, () => p.reserve());
    expect(waits.slice(0, 5)).toEqual([0, 0, 0, 0, 0]);
    expect(waits.slice(5)).toEqual([10, 20, 30]);
  });

  it('tryReserve takes a slot only when it is due', () => {
    const clock = new FakeClock();
    const p = new Pacer(10, 1, clock);
    expect(p.tryReserve()).toBe(true);
    expect(p.tryReserve()).toBe(false);
    clock.t += 99;
    expect(p.tryReserve()).toBe(false);
    clock.t += 1;
    expect(p.tryReserve()).toBe(true);
    expect(p.reserve()).toBe(100);
  });

  it('over a long run the count matches rate x time (+ burst), with an uneven caller', () => {
    const clock = new FakeClock();
    const p = new Pacer(333, defaultBurst(333), clock);
    let sent = 0;
    // a caller polling every 7 ms and sending whatever is due
    for (let t = 0; t < 60_000; t += 7) {
      clock.t = 1_000 + t;
      while (p.tryReserve()) sent++;
    }
    expect(sent).toBeGreaterThanOrEqual(333 * 60 - 1);
    expect(sent).toBeLessThanOrEqual(333 * 60 + defaultBurst(333));
  });

  it('refuses a rate or burst that makes no sense', () => {
    expect(() => new Pacer(0, 1)).toThrow(RangeError);
    expect(() => new Pacer(10, 0)).toThrow(RangeError);
    expect(defaultBurst(1)).toBe(1);
    expect(defaultBurst(10_000)).toBe(500);
  });
});

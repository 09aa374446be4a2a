/**
 * A seeded pseudo-random generator (mulberry32): the same seed gives the same sequence on
 * every machine, so a failing fuzz or property run is reproduced from its printed seed.
 */
export class Prng {
  #state: number;
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#state = this.seed;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A derived generator, so one part of a run does not shift the sequence of another. */
  fork(label: string): Prng {
    let h = this.seed ^ 0x9e3779b9;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
    return new Prng(h >>> 0);
  }
}

/**
 * The seed of this run: `BYOK_RELIABILITY_SEED` when set (to reproduce a failure); else
 * `fallback` (the quick CI run uses a fixed one, so CI is deterministic); else from the clock
 * (the full run explores new ground every time and prints its seed).
 */
export function runSeed(fallback?: number, env: Readonly<Record<string, string | undefined>> = process.env): number {
  const given = env.BYOK_RELIABILITY_SEED?.trim();
  if (given) {
    const n = Number(given);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`BYOK_RELIABILITY_SEED must be an integer in 0..4294967295, not ${given}`);
    return n;
  }
  if (fallback !== undefined) return fallback;
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

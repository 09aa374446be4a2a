import { randomUUID } from 'node:crypto';
import { systemClock } from '../../util/clock';
import type { Clock } from '../../util/clock';
import type { ConcurrencyLease, ConcurrencyStore, RateLimitResult, RateLimitStore } from './rate-limit-store';

/** Options for {@link MemoryRateLimitStore}. */
export interface MemoryRateLimitStoreOptions {
  /** Most keys held at once, per kind (counters, concurrency); default 10 000. */
  maxKeys?: number;
  clock?: Clock;
}

interface Window {
  count: number;
  resetAt: number;
}

/**
 * The default, single-instance rate limit store: fixed windows and lease sets in
 * bounded maps. Expired entries are swept when a map fills; if it is still full the
 * oldest entries are evicted (which can only make a limit more lenient, never lock a
 * client out). Use the Redis store when several instances serve one host.
 *
 * @example
 * const limiter = new RateLimiter({ store: new MemoryRateLimitStore() });
 */
export class MemoryRateLimitStore implements RateLimitStore, ConcurrencyStore {
  readonly #windows = new Map<string, Window>();
  readonly #leases = new Map<string, Map<string, number>>();
  readonly #maxKeys: number;
  readonly #clock: Clock;

  constructor(options: MemoryRateLimitStoreOptions = {}) {
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#clock = options.clock ?? systemClock;
  }

  /** Number of live counter keys (for tests and metrics). */
  get size(): number {
    return this.#windows.size;
  }

  async hit(key: string, windowMs: number, limit: number): Promise<RateLimitResult> {
    const now = this.#clock.now();
    let window = this.#windows.get(key);
    if (!window || window.resetAt <= now) {
      if (window) this.#windows.delete(key);
      else this.#makeRoom(this.#windows, (w) => w.resetAt <= now);
      window = { count: 0, resetAt: now + windowMs };
      this.#windows.set(key, window);
    }
    window.count++;
    const allowed = window.count <= limit;
    return {
      allowed,
      remaining: Math.max(0, limit - window.count),
      retryAfterMs: allowed ? 0 : window.resetAt - now,
    };
  }

  async acquire(key: string, max: number, leaseMs: number): Promise<ConcurrencyLease | null> {
    const now = this.#clock.now();
    let holders = this.#leases.get(key);
    if (holders) {
      for (const [id, expiresAt] of holders) if (expiresAt <= now) holders.delete(id);
    } else {
      this.#makeRoom(this.#leases, (set) => [...set.values()].every((expiresAt) => expiresAt <= now));
      holders = new Map();
      this.#leases.set(key, holders);
    }
    if (holders.size >= max) return null;
    const id = randomUUID();
    holders.set(id, now + leaseMs);
    const leases = this.#leases;
    const clock = this.#clock;
    return {
      id,
      async release() {
        const set = leases.get(key);
        if (!set) return;
        set.delete(id);
        if (set.size === 0) leases.delete(key);
      },
      async renew() {
        const set = leases.get(key);
        const expiresAt = set?.get(id);
        const at = clock.now();
        if (!set || expiresAt === undefined || expiresAt <= at) return false;
        set.set(id, at + leaseMs);
        return true;
      },
    };
  }

  #makeRoom<V>(map: Map<string, V>, expired: (value: V) => boolean): void {
    if (map.size < this.#maxKeys) return;
    for (const [key, value] of map) if (expired(value)) map.delete(key);
    // Still full: drop the oldest tenth in insertion order.
    const excess = map.size - this.#maxKeys + Math.max(1, Math.floor(this.#maxKeys / 10));
    if (map.size < this.#maxKeys) return;
    let dropped = 0;
    for (const key of map.keys()) {
      if (dropped >= excess) break;
      // Single-use markers (a spent login state) must outlive their window, or a flood of
      // other keys would make a used login replayable; they expire on their own.
      if (key.startsWith('login_state:')) continue;
      map.delete(key);
      dropped++;
    }
  }
}

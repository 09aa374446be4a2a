import { randomUUID } from 'node:crypto';
import type { LRUCache } from 'lru-cache';
import { boundedCache, DEFAULT_MAX_ENTRIES, wholeMs } from '../../util/bounded-cache';
import { systemClock, type Clock } from '../../util/clock';
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
 * bounded maps whose entries expire with their window or lease. When a map is full,
 * expired entries go first, then the least recently used (which can only make a limit
 * more lenient, never lock a client out). Use the Redis store when several instances
 * serve one host.
 *
 * @example
 * const limiter = new RateLimiter({ store: new MemoryRateLimitStore() });
 */
export class MemoryRateLimitStore implements RateLimitStore, ConcurrencyStore {
  readonly #windows: LRUCache<string, Window>;
  /** Lease ids and their expiry, per key; a set lives as long as its newest lease. */
  readonly #leases: LRUCache<string, Map<string, number>>;
  readonly #maxKeys: number;
  readonly #clock: Clock;

  constructor(options: MemoryRateLimitStoreOptions = {}) {
    this.#maxKeys = options.maxKeys ?? DEFAULT_MAX_ENTRIES;
    this.#clock = options.clock ?? systemClock;
    this.#windows = boundedCache({ max: this.#maxKeys, clock: this.#clock });
    this.#leases = boundedCache({ max: this.#maxKeys, clock: this.#clock });
  }

  /** Number of live counter keys (for tests and metrics). */
  get size(): number {
    return this.#windows.size;
  }

  async hit(key: string, windowMs: number, limit: number): Promise<RateLimitResult> {
    const now = this.#clock.now();
    let window = this.#windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { count: 0, resetAt: now + windowMs };
      makeRoom(this.#windows, key, this.#maxKeys);
      this.#windows.set(key, window, { ttl: wholeMs(windowMs) });
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
    const leases = this.#leases;
    const clock = this.#clock;
    const now = clock.now();
    let holders = leases.get(key);
    if (holders) {
      for (const [id, expiresAt] of holders) if (expiresAt <= now) holders.delete(id);
    } else {
      holders = new Map();
    }
    if (holders.size >= max) return null;
    const id = randomUUID();
    holders.set(id, now + leaseMs);
    keep(leases, key, holders, now, this.#maxKeys);
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
        keep(leases, key, set, at, Infinity);
        return true;
      },
    };
  }
}

/** Before a new key goes in: when the map is full, expired entries leave first. */
function makeRoom<V extends {}>(map: LRUCache<string, V>, key: string, max: number): void {
  if (map.size >= max && !map.has(key)) map.purgeStale();
}

/** (Re)stores a lease set so it lives exactly as long as its newest lease. */
function keep(leases: LRUCache<string, Map<string, number>>, key: string, holders: Map<string, number>, now: number, max: number): void {
  const newest = Math.max(...holders.values());
  makeRoom(leases, key, max);
  leases.set(key, holders, { ttl: wholeMs(newest - now) });
}

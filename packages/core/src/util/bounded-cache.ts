import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from './clock';

/** How many entries an in-memory cache or counter map holds unless told otherwise. */
export const DEFAULT_MAX_ENTRIES = 10_000;

/** Options for {@link boundedCache}. */
export interface BoundedCacheOptions {
  /** Most entries held at once; the least recently used goes first when full. */
  max: number;
  /** Lifetime of an entry unless `set` gives one (ms); default: until evicted. */
  ttlMs?: number;
  /** Whose time entries age by (tests pass a fake clock). Default the system clock. */
  clock?: Clock;
}

/**
 * The one bounded map byok keeps in memory (verified tokens, strict-mode session checks,
 * rate-limit windows and leases, single-use login markers): least-recently-used eviction
 * at `max`, and per-entry lifetimes read from byok's {@link Clock}.
 *
 * @example
 * const cache = boundedCache<string, number>({ max: 1000, ttlMs: 2000, clock });
 * cache.set('sid', 1);
 * cache.get('sid'); // 1, until 2 s have passed on `clock`
 */
export function boundedCache<K extends {}, V extends {}>(options: BoundedCacheOptions): LRUCache<K, V> {
  const clock = options.clock ?? systemClock;
  if (!Number.isSafeInteger(options.max) || options.max < 1) throw new RangeError('a bounded cache needs max ≥ 1');
  return new LRUCache<K, V>({
    max: options.max,
    ...(options.ttlMs !== undefined ? { ttl: wholeMs(options.ttlMs) } : {}),
    // lru-cache treats a start time of 0 as "never stale"; a fake clock may well read 0.
    perf: { now: () => clock.now() + 1 },
    // Read the clock on every check: a cached reading would lag a fake clock in tests.
    ttlResolution: 0,
  });
}

/** A lifetime as lru-cache takes it: a whole number of milliseconds, at least 1. */
export function wholeMs(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

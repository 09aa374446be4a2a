import type { LRUCache } from 'lru-cache';
import { ByokError } from '../errors';
import { boundedCache, wholeMs } from '../util/bounded-cache';
import type { Clock } from '../util/clock';
import type { LoginMarkerStore } from './login-marker-store';

/** Options for {@link MemoryLoginMarkerStore}. */
export interface MemoryLoginMarkerStoreOptions {
  /** Most unexpired markers held at once (default 50 000). */
  maxMarkers?: number;
  clock?: Clock;
}

const DEFAULT_MAX_MARKERS = 50_000;

/**
 * Single-use login markers in a bounded map, for one instance. A marker is never evicted
 * before it expires (that would make its login replayable): when the map is full of live
 * markers, a new login is refused with `rate_limited` until some expire.
 *
 * @example
 * const markers = new MemoryLoginMarkerStore();
 * await markers.claim('login_state:abc', 600_000); // true
 * await markers.claim('login_state:abc', 600_000); // false
 */
export class MemoryLoginMarkerStore implements LoginMarkerStore {
  readonly #markers: LRUCache<string, true>;
  readonly #max: number;

  constructor(options: MemoryLoginMarkerStoreOptions = {}) {
    this.#max = options.maxMarkers ?? DEFAULT_MAX_MARKERS;
    this.#markers = boundedCache<string, true>({ max: this.#max, ...(options.clock ? { clock: options.clock } : {}) });
  }

  /** Number of markers held (for tests and metrics). */
  get size(): number {
    return this.#markers.size;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    if (this.#markers.has(key)) return false;
    if (this.#markers.size >= this.#max) {
      this.#markers.purgeStale();
      if (this.#markers.size >= this.#max) {
        throw new ByokError('rate_limited', 'Too many sign-ins in progress; try again shortly', { details: { retryAfterMs: 1000 } });
      }
    }
    this.#markers.set(key, true, { ttl: wholeMs(ttlMs) });
    return true;
  }
}

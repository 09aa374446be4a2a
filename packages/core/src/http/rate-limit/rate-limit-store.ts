/** The outcome of one counted request. */
export interface RateLimitResult {
  /** Whether this request is within the limit. */
  allowed: boolean;
  /** Requests left in the current window (0 when refused). */
  remaining: number;
  /** When refused, how long until the window resets; 0 when allowed. */
  retryAfterMs: number;
}

/**
 * Counts requests per key in fixed windows. Drivers must make `hit` atomic across
 * every instance that shares them (a Redis driver uses one Lua script).
 *
 * @example
 * async function allowLoginStart(store: RateLimitStore, ip: string): Promise<boolean> {
 *   const { allowed, retryAfterMs } = await store.hit(`login_start:ip:${ip}`, 60_000, 20);
 *   if (!allowed) console.log(`retry in ${retryAfterMs} ms`);
 *   return allowed;
 * }
 */
export interface RateLimitStore {
  /** Counts one request under `key` and says whether it is within `limit` per `windowMs`. */
  hit(key: string, windowMs: number, limit: number): Promise<RateLimitResult>;
}

/** A slot held in a {@link ConcurrencyStore}; it lapses by itself after its lease. */
export interface ConcurrencyLease {
  readonly id: string;
  /** Gives the slot back. Idempotent. */
  release(): Promise<void>;
  /** Extends the lease by its original length; false if the slot had already lapsed or was released. */
  renew(): Promise<boolean>;
}

/**
 * Limits how many holders a key may have at once (e.g. concurrent chat streams per
 * user). Leases expire, so a crashed instance cannot hold slots forever.
 *
 * @example
 * async function withStreamSlot(store: ConcurrencyStore, userId: string, stream: () => Promise<void>): Promise<void> {
 *   const lease = await store.acquire(`chat_stream:user:${userId}`, 3, 60_000);
 *   if (!lease) throw new ByokError('rate_limited', 'Too many concurrent streams');
 *   try { await stream(); } finally { await lease.release(); }
 * }
 */
export interface ConcurrencyStore {
  /** Takes a slot if fewer than `max` live leases exist; null otherwise. */
  acquire(key: string, max: number, leaseMs: number): Promise<ConcurrencyLease | null>;
}

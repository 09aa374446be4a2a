import { randomUUID } from 'node:crypto';
import { ByokError } from '../../errors';
import type { ConcurrencyLease, ConcurrencyStore, RateLimitResult, RateLimitStore } from './rate-limit-store';

/**
 * The slice of a Redis client this store uses: `eval(script, numKeys, ...keysAndArgs)`,
 * as ioredis provides it (any client can be wrapped to this shape). byok does not
 * depend on a Redis client.
 */
export interface RedisEvalClient {
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

/** Options for {@link RedisRateLimitStore}. */
export interface RedisRateLimitStoreOptions {
  client: RedisEvalClient;
  /** Prepended to every key (default `byok:rl:`). */
  prefix?: string;
}

// INCR then set the expiry on the first hit; PTTL gives the time left. A key that lost
// its TTL (should never happen) gets one again so it cannot block forever.
const HIT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { count, ttl }
`;

// Leases are members of a sorted set scored by their expiry on the Redis clock, so
// instances with skewed clocks agree. Expired members are pruned before counting.
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

const ACQUIRE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
if held >= tonumber(ARGV[1]) then return 0 end
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return 1
`;

const RENEW = `${NOW}
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expires then return 0 end
if tonumber(expires) <= now then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[1])
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return 1
`;

const RELEASE = `return redis.call('ZREM', KEYS[1], ARGV[1])`;

/**
 * Rate limits and concurrency leases shared by every instance through Redis. Each
 * operation is one Lua script, so it is atomic.
 *
 * @example
 * import Redis from 'ioredis';
 * const store = new RedisRateLimitStore({ client: new Redis(process.env.REDIS_URL!) });
 * const limiter = new RateLimiter({ store });
 */
export class RedisRateLimitStore implements RateLimitStore, ConcurrencyStore {
  readonly #client: RedisEvalClient;
  readonly #prefix: string;

  constructor(options: RedisRateLimitStoreOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix ?? 'byok:rl:';
  }

  async hit(key: string, windowMs: number, limit: number): Promise<RateLimitResult> {
    const reply = await this.#eval(HIT, this.#prefix + key, Math.max(1, Math.ceil(windowMs)));
    if (!Array.isArray(reply) || reply.length !== 2) throw new ByokError('internal', 'Unexpected Redis reply');
    const count = Number(reply[0]);
    const ttl = Number(reply[1]);
    const allowed = count <= limit;
    return { allowed, remaining: Math.max(0, limit - count), retryAfterMs: allowed ? 0 : Math.max(1, ttl) };
  }

  async acquire(key: string, max: number, leaseMs: number): Promise<ConcurrencyLease | null> {
    const fullKey = this.#prefix + key;
    const id = randomUUID();
    const lease = Math.max(1, Math.ceil(leaseMs));
    const reply = await this.#eval(ACQUIRE, fullKey, max, lease, id);
    if (Number(reply) !== 1) return null;
    return {
      id,
      release: async () => {
        await this.#eval(RELEASE, fullKey, id);
      },
      renew: async () => Number(await this.#eval(RENEW, fullKey, id, lease)) === 1,
    };
  }

  async #eval(script: string, key: string, ...args: Array<string | number>): Promise<unknown> {
    try {
      return await this.#client.eval(script, 1, key, ...args);
    } catch (cause) {
      throw new ByokError('internal', 'Rate limit store is unavailable', { cause });
    }
  }
}

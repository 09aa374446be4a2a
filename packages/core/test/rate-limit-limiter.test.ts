import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { isByokError } from '@byok/core';
import { MemoryRateLimitStore } from '../src/http/rate-limit/memory-rate-limit-store';
import { RedisRateLimitStore } from '../src/http/rate-limit/redis-rate-limit-store';
import { RateLimiter } from '../src/http/rate-limit/rate-limiter';
import { DEFAULT_RATE_LIMITS, RATE_LIMIT_CLASSES } from '../src/http/rate-limit/rate-limiter';
import type { ByokError, RateLimitClass } from '@byok/core';

async function refusal(promise: Promise<unknown>): Promise<ByokError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a refusal');
    },
    (e: unknown) => e,
  );
  expect(isByokError(error)).toBe(true);
  return error as ByokError;
}

function memoryLimiter(options: ConstructorParameters<typeof RateLimiter>[0] = {}) {
  let now = 1_000_000;
  const store = new MemoryRateLimitStore({ clock: { now: () => now } });
  return { limiter: new RateLimiter({ store, ...options }), advance: (ms: number) => void (now += ms) };
}

describe('RateLimiter', () => {
  it('has sane defaults for every class', () => {
    const limiter = new RateLimiter();
    expect([...RATE_LIMIT_CLASSES].sort()).toEqual(['chat_send', 'key_set', 'key_test', 'login_callback', 'login_start', 'refresh']);
    for (const cls of RATE_LIMIT_CLASSES) {
      const rule = limiter.rule(cls);
      expect(rule).not.toBe(false);
      if (rule) {
        expect(rule.windowMs).toBeGreaterThan(0);
        expect(rule.perIp ?? rule.perUser).toBeGreaterThan(0);
      }
    }
  });

  it('refuses per IP with rate_limited and retryAfterMs', async () => {
    const { limiter } = memoryLimiter({ limits: { login_start: { perIp: 3, windowMs: 60_000 } } });
    for (let i = 0; i < 3; i++) await limiter.check('login_start', { ip: '203.0.113.9' });
    const error = await refusal(limiter.check('login_start', { ip: '203.0.113.9' }));
    expect(error.code).toBe('rate_limited');
    expect(error.status).toBe(429);
    expect(error.details?.retryAfterMs).toBeGreaterThan(0);
    expect(error.details?.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(error.toJSON().error.details).toEqual({ retryAfterMs: error.details?.retryAfterMs });
    // another address is not affected
    await limiter.check('login_start', { ip: '203.0.113.10' });
  });

  it('counts IPv6 clients per /64', async () => {
    const { limiter } = memoryLimiter({ limits: { login_start: { perIp: 2 } } });
    await limiter.check('login_start', { ip: '2001:db8:1:2::1' });
    await limiter.check('login_start', { ip: '2001:db8:1:2:ffff:ffff:ffff:fffe' });
    await expect(limiter.check('login_start', { ip: '2001:db8:1:2::abcd' })).rejects.toMatchObject({ code: 'rate_limited' });
    await limiter.check('login_start', { ip: '2001:db8:1:3::1' });
  });

  it('refuses per user across addresses', async () => {
    const { limiter } = memoryLimiter({ limits: { chat_send: { perUser: 2, perIp: 100 } } });
    await limiter.check('chat_send', { ip: '198.51.100.1', userId: 'u1' });
    await limiter.check('chat_send', { ip: '198.51.100.2', userId: 'u1' });
    await expect(limiter.check('chat_send', { ip: '198.51.100.3', userId: 'u1' })).rejects.toMatchObject({ code: 'rate_limited' });
    await limiter.check('chat_send', { ip: '198.51.100.3', userId: 'u2' });
  });

  it('keeps classes apart, and recovers after the window', async () => {
    const { limiter, advance } = memoryLimiter({ limits: { key_test: { perUser: 1, windowMs: 10_000 } } });
    await limiter.check('key_test', { userId: 'u' });
    await expect(limiter.check('key_test', { userId: 'u' })).rejects.toMatchObject({ code: 'rate_limited' });
    await limiter.check('key_set', { userId: 'u' });
    advance(10_001);
    await limiter.check('key_test', { userId: 'u' });
  });

  it('skips classes turned off, and counts every request of an unknown peer in one shared bucket', async () => {
    const { limiter } = memoryLimiter({ limits: { refresh: false, login_callback: { perIp: 1 } } });
    for (let i = 0; i < 500; i++) await limiter.check('refresh', { ip: '203.0.113.9', userId: 'u' });
    expect(limiter.rule('refresh')).toBe(false);
    await limiter.check('login_callback', { ip: null, userId: null });
    await expect(limiter.check('login_callback', { ip: null, userId: null })).rejects.toMatchObject({ code: 'rate_limited' });
    await limiter.check('login_callback', { ip: '203.0.113.10', userId: null });
  });

  it('refuses unknown classes and bad limits', async () => {
    // @ts-expect-error: not a rate limit class (a typo does not compile; at run time it is refused too)
    await expect(new RateLimiter().check('nope', { ip: '203.0.113.9' })).rejects.toMatchObject({ code: 'internal' });
    for (const bad of [{ perIp: 0 }, { perIp: -1 }, { windowMs: 0 }, { perUser: 1.5 }]) {
      expect(() => new RateLimiter({ limits: { chat_send: bad } })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    }
    expect(() => new RateLimiter({ chatStream: { perUser: 0 } })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
  });

  it('does not share defaults between instances', () => {
    const a = new RateLimiter({ limits: { chat_send: { perUser: 1 } } });
    const b = new RateLimiter();
    expect((a.rule('chat_send') as { perUser: number }).perUser).toBe(1);
    expect(b.rule('chat_send')).toEqual(DEFAULT_RATE_LIMITS.chat_send);
  });

  it('limits concurrent chat streams per user', async () => {
    const { limiter } = memoryLimiter({ chatStream: { perUser: 2 } });
    const a = await limiter.acquireStream('u1');
    await limiter.acquireStream('u1');
    const error = await refusal(limiter.acquireStream('u1'));
    expect(error.code).toBe('rate_limited');
    expect(error.details).toEqual({ retryAfterMs: 1000 });
    await limiter.acquireStream('u2');
    await a.release();
    await limiter.acquireStream('u1');
  });

  it('can turn the stream limit off', async () => {
    const limiter = new RateLimiter({ chatStream: false });
    for (let i = 0; i < 20; i++) await limiter.acquireStream('u');
  });
});

describe('RateLimiter over Redis: two instances share the limits', () => {
  const prefix = `byok-test:${randomUUID()}:`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1 });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('counts across instances', async () => {
    const limits = { key_set: { perUser: 3, perIp: null } } as const;
    const one = new RateLimiter({ store: new RedisRateLimitStore({ client: redis, prefix }), limits });
    const two = new RateLimiter({ store: new RedisRateLimitStore({ client: redis, prefix }), limits });
    await one.check('key_set', { userId: 'shared' });
    await two.check('key_set', { userId: 'shared' });
    await one.check('key_set', { userId: 'shared' });
    await expect(two.check('key_set', { userId: 'shared' })).rejects.toMatchObject({ code: 'rate_limited' });
  });

  it('shares stream slots across instances', async () => {
    const store = new RedisRateLimitStore({ client: redis, prefix });
    const one = new RateLimiter({ store, chatStream: { perUser: 1 } });
    const two = new RateLimiter({ store: new RedisRateLimitStore({ client: redis, prefix }), chatStream: { perUser: 1 } });
    const lease = await one.acquireStream('streamer');
    await expect(two.acquireStream('streamer')).rejects.toMatchObject({ code: 'rate_limited' });
    await lease.release();
    await (await two.acquireStream('streamer')).release();
  });

  it('a class name maps to the documented key layout', async () => {
    const cls: RateLimitClass = 'login_start';
    const limiter = new RateLimiter({ store: new RedisRateLimitStore({ client: redis, prefix }) });
    await limiter.check(cls, { ip: '2001:db8:9:9::1' });
    expect(await redis.exists(`${prefix}login_start:ip:2001:db8:9:9::/64`)).toBe(1);
  });
});

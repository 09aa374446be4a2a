import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRateLimitStore } from '../src/http/rate-limit/memory-rate-limit-store';
import { RedisRateLimitStore } from '../src/http/rate-limit/redis-rate-limit-store';
import { rateLimitStoreConformance } from '@byok/testing';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let redis: Redis;
const prefix = `byok-test:${randomUUID()}:`;

beforeAll(async () => {
  redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

rateLimitStoreConformance({
  name: 'memory',
  makeStore: () => {
    let now = 1_000_000;
    return {
      store: new MemoryRateLimitStore({ clock: { now: () => now } }),
      advance: async (ms) => {
        now += ms;
      },
    };
  },
});

// Redis keeps time on its own clock: the suite's short windows and leases pass for real.
rateLimitStoreConformance({
  name: 'redis',
  makeStore: () => ({ store: new RedisRateLimitStore({ client: redis, prefix }), advance: sleep }),
});

describe('MemoryRateLimitStore bounds', () => {
  it('never holds more than maxKeys counters, sweeping expired ones first', async () => {
    let now = 0;
    const store = new MemoryRateLimitStore({ maxKeys: 100, clock: { now: () => now } });
    for (let i = 0; i < 100; i++) await store.hit(`old:${i}`, 1000, 5);
    expect(store.size).toBe(100);
    now = 5000;
    await store.hit('fresh', 1000, 5);
    expect(store.size).toBe(1);
    for (let i = 0; i < 1000; i++) await store.hit(`k:${i}`, 60_000, 5);
    expect(store.size).toBeLessThanOrEqual(100);
    // the newest keys are still counted
    await store.hit('k:999', 60_000, 2);
    expect((await store.hit('k:999', 60_000, 2)).allowed).toBe(false);
  });
});

describe('RedisRateLimitStore', () => {
  it('stores under its prefix with an expiry', async () => {
    const store = new RedisRateLimitStore({ client: redis, prefix });
    await store.hit('ttl-check', 60_000, 5);
    const ttl = await redis.pttl(`${prefix}ttl-check`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    const lease = await store.acquire('lease-check', 1, 60_000);
    expect(await redis.zcard(`${prefix}lease-check`)).toBe(1);
    expect(await redis.pttl(`${prefix}lease-check`)).toBeGreaterThan(50_000);
    await lease!.release();
    expect(await redis.zcard(`${prefix}lease-check`)).toBe(0);
  });

  it('reports an unreachable Redis as a ByokError', async () => {
    const broken = new RedisRateLimitStore({
      client: { eval: async () => Promise.reject(new Error('ECONNREFUSED')) },
    });
    await expect(broken.hit('x', 1000, 1)).rejects.toMatchObject({ code: 'internal' });
  });
});

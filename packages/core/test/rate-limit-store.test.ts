import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRateLimitStore, RedisRateLimitStore } from '@byok/core';
import type { ConcurrencyStore, RateLimitStore } from '@byok/core';

interface Harness {
  store: RateLimitStore & ConcurrencyStore;
  /** Lets `ms` of store time pass. */
  advance(ms: number): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

const drivers: Array<[string, () => Harness]> = [
  [
    'memory',
    () => {
      let now = 1_000_000;
      const store = new MemoryRateLimitStore({ clock: { now: () => now } });
      return {
        store,
        advance: async (ms) => {
          now += ms;
        },
      };
    },
  ],
  [
    'redis',
    () => ({
      store: new RedisRateLimitStore({ client: redis, prefix }),
      advance: async (ms) => {
        await sleep(ms);
      },
    }),
  ],
];

describe.each(drivers)('%s rate limit store', (_name, make) => {
  const key = () => `k:${randomUUID()}`;

  it('allows up to the limit, then refuses with a retry-after within the window', async () => {
    const { store } = make();
    const k = key();
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await store.hit(k, 60_000, 3));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0]);
    expect(results[0]!.retryAfterMs).toBe(0);
    expect(results[3]!.retryAfterMs).toBeGreaterThan(55_000);
    expect(results[3]!.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('starts a new window after windowMs', async () => {
    const { store, advance } = make();
    const k = key();
    expect((await store.hit(k, 300, 1)).allowed).toBe(true);
    expect((await store.hit(k, 300, 1)).allowed).toBe(false);
    await advance(350);
    expect((await store.hit(k, 300, 1)).allowed).toBe(true);
  });

  it('counts keys independently', async () => {
    const { store } = make();
    const a = key();
    const b = key();
    await store.hit(a, 60_000, 1);
    expect((await store.hit(a, 60_000, 1)).allowed).toBe(false);
    expect((await store.hit(b, 60_000, 1)).allowed).toBe(true);
  });

  it('is atomic under concurrent hits', async () => {
    const { store } = make();
    const k = key();
    const results = await Promise.all(Array.from({ length: 40 }, () => store.hit(k, 60_000, 10)));
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
  });

  it('limits concurrent leases and frees a slot on release', async () => {
    const { store } = make();
    const k = key();
    const a = await store.acquire(k, 2, 60_000);
    const b = await store.acquire(k, 2, 60_000);
    expect(a).not.toBeNull();
    expect(b).not.toBeNull();
    expect(a!.id).not.toBe(b!.id);
    expect(await store.acquire(k, 2, 60_000)).toBeNull();
    await a!.release();
    await a!.release(); // idempotent: must not free b's slot
    const c = await store.acquire(k, 2, 60_000);
    expect(c).not.toBeNull();
    expect(await store.acquire(k, 2, 60_000)).toBeNull();
    expect(await b!.renew()).toBe(true);
    expect(await a!.renew()).toBe(false);
  });

  it('is atomic under concurrent acquires', async () => {
    const { store } = make();
    const k = key();
    const leases = await Promise.all(Array.from({ length: 20 }, () => store.acquire(k, 3, 60_000)));
    expect(leases.filter((l) => l !== null)).toHaveLength(3);
  });

  it('lets an expired lease lapse, and renew keeps one alive', async () => {
    const { store, advance } = make();
    const k = key();
    const short = await store.acquire(k, 1, 600);
    expect(short).not.toBeNull();
    expect(await store.acquire(k, 1, 600)).toBeNull();
    await advance(400);
    expect(await short!.renew()).toBe(true);
    await advance(400);
    // renewed at ~400 ms for another 600 ms: still held at ~800 ms
    expect(await store.acquire(k, 1, 600)).toBeNull();
    await advance(500);
    const next = await store.acquire(k, 1, 600);
    expect(next).not.toBeNull();
    expect(await short!.renew()).toBe(false);
    await next!.release();
  });
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

import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryLoginMarkerStore } from '../src/auth/memory-login-marker-store';
import { RedisLoginMarkerStore } from '../src/auth/redis-login-marker-store';
import { driveLogin, type DevIssuer } from '@byok/testing';
import { Browser, devIssuer, makeByok, startIssuer } from './auth-flow-harness';

// Single-use login markers have their own store: SET NX PX in Redis, a bounded map in
// memory that never evicts a live marker. They are not rate-limit counters.
describe('login marker stores', () => {
  let redis: Redis;
  const prefix = `byok-test:${randomUUID()}:once:`;

  beforeAll(async () => {
    redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('memory: a marker is claimed once, and again only after it expired', async () => {
    let now = 0;
    const markers = new MemoryLoginMarkerStore({ clock: { now: () => now } });
    expect(await markers.claim('login_state:a', 1000)).toBe(true);
    expect(await markers.claim('login_state:a', 1000)).toBe(false);
    expect(await markers.claim('login_state:b', 1000)).toBe(true);
    now = 1001;
    expect(await markers.claim('login_state:a', 1000)).toBe(true);
  });

  it('memory: a full map refuses new logins rather than evicting a spent one (which would make it replayable)', async () => {
    let now = 0;
    const markers = new MemoryLoginMarkerStore({ maxMarkers: 10, clock: { now: () => now } });
    expect(await markers.claim('login_state:spent', 60_000)).toBe(true);
    for (let i = 0; i < 9; i++) expect(await markers.claim(`login_state:${i}`, 60_000)).toBe(true);
    await expect(markers.claim('login_state:flood', 60_000)).rejects.toMatchObject({ code: 'rate_limited' });
    expect(await markers.claim('login_state:spent', 60_000)).toBe(false);
    expect(markers.size).toBe(10);
    // Once they expire, room is made from the expired ones.
    now = 60_001;
    expect(await markers.claim('login_state:flood', 60_000)).toBe(true);
    expect(markers.size).toBe(1);
  });

  it('redis: SET NX PX, so only the first of two instances wins, and the marker lapses on its own', async () => {
    const one = new RedisLoginMarkerStore({ client: redis, prefix });
    const two = new RedisLoginMarkerStore({ client: redis, prefix });
    const results = await Promise.all([one.claim('login_state:x', 60_000), two.claim('login_state:x', 60_000)]);
    expect(results.sort()).toEqual([false, true]);
    const ttl = await redis.pttl(`${prefix}login_state:x`);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await one.claim('login_state:short', 50)).toBe(true);
    await new Promise((r) => setTimeout(r, 120));
    expect(await two.claim('login_state:short', 50)).toBe(true);
  });

  it('redis: an unreachable Redis is a ByokError', async () => {
    const broken = new RedisLoginMarkerStore({ client: { set: async () => Promise.reject(new Error('ECONNREFUSED')) } });
    await expect(broken.claim('x', 1000)).rejects.toMatchObject({ code: 'internal' });
  });
});

describe('a sign-in through createByok with Redis', () => {
  let issuer: DevIssuer;
  let redis: Redis;
  const keyPrefix = `byok-test:${randomUUID()}:`;

  beforeAll(async () => {
    issuer = await startIssuer();
    redis = new Redis({ host: '127.0.0.1', port: 6379, keyPrefix, lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });
  afterAll(async () => {
    const plain = new Redis({ host: '127.0.0.1', port: 6379 });
    const keys = await plain.keys(`${keyPrefix}*`);
    if (keys.length > 0) await plain.del(...keys);
    await plain.quit();
    await redis.quit();
    await issuer.close();
  });

  it('spends the login state in the marker store, not among the rate-limit counters, and refuses its replay on another instance', async () => {
    const a = await makeByok({ memory: true }, [devIssuer(issuer)], {}, { redis });
    const b = await makeByok({ memory: true }, [devIssuer(issuer)], {}, { redis });
    try {
      const browser = new Browser(a);
      const start = await browser.request('GET', '/auth/login/dev');
      const login = browser.cookie('byok_login')!;
      const callback = await driveLogin(start.redirect!, { login: 'alice' });
      expect((await browser.request('GET', callback)).status).toBe(303);

      const plain = new Redis({ host: '127.0.0.1', port: 6379 });
      try {
        const markers = await plain.keys(`${keyPrefix}byok:once:login_state:*`);
        expect(markers).toHaveLength(1);
        expect(await plain.pttl(markers[0]!)).toBeGreaterThan(0);
        expect(await plain.keys(`${keyPrefix}byok:rl:login_state:*`)).toEqual([]);
      } finally {
        await plain.quit();
      }
      const replay = await new Browser(b).request('GET', callback, { headers: { cookie: `byok_login=${login}` } });
      expect((replay.body as { error: { details: { reason: string } } }).error.details.reason).toBe('state_reused');
    } finally {
      await a.close();
      await b.close();
    }
  });
});

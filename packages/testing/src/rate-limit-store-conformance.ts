import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConcurrencyStore, RateLimitStore } from '@byok/core/store';

/** What `makeStore` returns: a rate-limit store, a way to let its time pass, and its teardown. */
export interface RateLimitStoreConformanceTarget {
  store: RateLimitStore & ConcurrencyStore;
  /**
   * Lets `ms` of the store's time pass: move an injected clock, or sleep for a store on
   * a server's clock (Redis). Windows and leases in the suite are short for that reason.
   */
  advance(ms: number): Promise<void>;
  cleanup?(): Promise<void>;
}

/** Options of {@link rateLimitStoreConformance}. */
export interface RateLimitStoreConformanceOptions {
  /** Shown in the describe block, e.g. `redis`. */
  name: string;
  /** Called once per suite; every case uses fresh keys, so one store serves them all. */
  makeStore: () => RateLimitStoreConformanceTarget | Promise<RateLimitStoreConformanceTarget>;
}

/**
 * The rate-limit store contract (`RateLimitStore` and `ConcurrencyStore` from
 * @byok/core/store) as a vitest suite: fixed windows with a retry-after, independent keys,
 * atomic counting and leasing under concurrency, leases that lapse, renew and release
 * exactly once. byok runs it against the memory and Redis stores; a store of your own
 * (on your cache or database) passes the same suite.
 *
 * @example
 * import type { ConcurrencyStore, RateLimitStore } from '@byok/core/store';
 * import { rateLimitStoreConformance } from '@byok/testing/store';
 * function holdToContract(name: string, open: () => RateLimitStore & ConcurrencyStore, close: () => Promise<void>) {
 *   rateLimitStoreConformance({
 *     name,
 *     makeStore: () => ({
 *       store: open(),
 *       advance: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)), // a store on a server's clock
 *       cleanup: close,
 *     }),
 *   });
 * }
 */
export function rateLimitStoreConformance(options: RateLimitStoreConformanceOptions): void {
  describe(`rate limit store conformance: ${options.name}`, () => {
    let target: RateLimitStoreConformanceTarget | undefined;
    const store = () => target!.store;
    const advance = (ms: number) => target!.advance(ms);
    const key = (label = 'k') => `${label}:${randomUUID()}`;

    beforeAll(async () => {
      target = await options.makeStore();
    });
    afterAll(async () => {
      await target?.cleanup?.();
    });

    describe('fixed windows', () => {
      it('allows up to the limit, then refuses with a retry-after within the window', async () => {
        const k = key();
        const results = [];
        for (let i = 0; i < 5; i++) results.push(await store().hit(k, 60_000, 3));
        expect(results.map((r) => r.allowed)).toEqual([true, true, true, false, false]);
        expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0, 0]);
        expect(results.slice(0, 3).map((r) => r.retryAfterMs)).toEqual([0, 0, 0]);
        for (const refused of results.slice(3)) {
          expect(refused.retryAfterMs).toBeGreaterThan(50_000);
          expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
        }
      });

      it('counts down the retry-after as the window passes', async () => {
        const k = key();
        await store().hit(k, 2_000, 1);
        const first = await store().hit(k, 2_000, 1);
        await advance(600);
        const later = await store().hit(k, 2_000, 1);
        expect(first.allowed || later.allowed).toBe(false);
        expect(later.retryAfterMs).toBeLessThan(first.retryAfterMs);
        expect(later.retryAfterMs).toBeGreaterThan(0);
      });

      it('starts a new window after windowMs, and refusals do not extend it', async () => {
        const k = key();
        expect((await store().hit(k, 300, 1)).allowed).toBe(true);
        expect((await store().hit(k, 300, 1)).allowed).toBe(false);
        await advance(150);
        expect((await store().hit(k, 300, 1)).allowed).toBe(false);
        await advance(200);
        expect(await store().hit(k, 300, 1)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
      });

      it('counts keys independently, including keys that share a prefix', async () => {
        const a = key('login_start:ip');
        for (const k of [a, `${a}:x`, `${a}x`]) expect((await store().hit(k, 60_000, 1)).allowed).toBe(true);
        expect((await store().hit(a, 60_000, 1)).allowed).toBe(false);
        expect((await store().hit(key('login_start:ip'), 60_000, 1)).allowed).toBe(true);
      });

      it('keeps a single-use marker spent for its whole window', async () => {
        const k = key('login_state');
        expect((await store().hit(k, 60_000, 1)).allowed).toBe(true);
        for (let i = 0; i < 20; i++) await store().hit(key('login_start:ip'), 60_000, 5);
        expect((await store().hit(k, 60_000, 1)).allowed).toBe(false);
      });

      it('is atomic under concurrent hits: exactly the limit is allowed', async () => {
        const k = key();
        const results = await Promise.all(Array.from({ length: 40 }, () => store().hit(k, 60_000, 10)));
        expect(results.filter((r) => r.allowed)).toHaveLength(10);
        expect(results.map((r) => r.remaining).sort((x, y) => x - y)).toEqual([...Array(31).fill(0), 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      });
    });

    describe('concurrency leases', () => {
      it('limits live leases, frees a slot on release, and releasing twice frees one slot only', async () => {
        const k = key('chat_stream:user');
        const a = await store().acquire(k, 2, 60_000);
        const b = await store().acquire(k, 2, 60_000);
        expect(a).not.toBeNull();
        expect(b).not.toBeNull();
        expect(a!.id).not.toBe(b!.id);
        expect(await store().acquire(k, 2, 60_000)).toBeNull();
        await a!.release();
        await a!.release();
        const c = await store().acquire(k, 2, 60_000);
        expect(c).not.toBeNull();
        expect(await store().acquire(k, 2, 60_000)).toBeNull();
        expect(await b!.renew()).toBe(true);
        expect(await a!.renew()).toBe(false);
        await b!.release();
        await c!.release();
      });

      it('keeps leases of different keys apart', async () => {
        const one = key('chat_stream:user');
        const two = key('chat_stream:user');
        const held = await store().acquire(one, 1, 60_000);
        expect(await store().acquire(one, 1, 60_000)).toBeNull();
        const other = await store().acquire(two, 1, 60_000);
        expect(other).not.toBeNull();
        await other!.release();
        expect(await held!.renew()).toBe(true);
        await held!.release();
      });

      it('is atomic under concurrent acquires: exactly max leases are handed out', async () => {
        const k = key();
        const leases = await Promise.all(Array.from({ length: 20 }, () => store().acquire(k, 3, 60_000)));
        const granted = leases.filter((l) => l !== null);
        expect(granted).toHaveLength(3);
        expect(new Set(granted.map((l) => l!.id)).size).toBe(3);
        for (const lease of granted) await lease!.release();
      });

      it('lets an expired lease lapse; renew keeps one alive for another full lease', async () => {
        const k = key();
        const short = await store().acquire(k, 1, 600);
        expect(short).not.toBeNull();
        expect(await store().acquire(k, 1, 600)).toBeNull();
        await advance(400);
        expect(await short!.renew()).toBe(true);
        await advance(400);
        // renewed at ~400 ms for another 600 ms: still held at ~800 ms
        expect(await store().acquire(k, 1, 600)).toBeNull();
        await advance(500);
        const next = await store().acquire(k, 1, 600);
        expect(next).not.toBeNull();
        // a lapsed lease neither renews nor, released late, frees the slot its successor holds
        expect(await short!.renew()).toBe(false);
        await short!.release();
        expect(await store().acquire(k, 1, 600)).toBeNull();
        await next!.release();
      });
    });
  });
}

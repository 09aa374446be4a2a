import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatEvent, UiMessageChunk } from '../src/chat/chat-events';
import { isRedisChatRunClient, RedisChatRunHub } from '../src/chat/chat-run-hub-redis';

const connect = () => new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1 });

async function collect(iterable: AsyncIterable<ChatEvent> | undefined): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const event of iterable ?? []) out.push(event);
  return out;
}

function chunkAt(runId: string, position: number): ChatEvent {
  const chunk: UiMessageChunk = position === 1 ? { type: 'start', messageId: `m-${runId}` } : { type: 'text-delta', id: 't0', delta: `d${position} ✓` };
  return { runId, position, chunk };
}

describe('RedisChatRunHub (real Redis on 127.0.0.1:6379)', () => {
  // Two clients stand for two instances: nothing is shared but Redis.
  let redisA: Redis;
  let redisB: Redis;
  let hubA: RedisChatRunHub;
  let hubB: RedisChatRunHub;
  const prefix = `byok-test:${randomUUID()}:`;

  beforeAll(() => {
    redisA = connect();
    redisB = connect();
    hubA = new RedisChatRunHub({ client: redisA, prefix, blockMs: 200 });
    hubB = new RedisChatRunHub({ client: redisB, prefix, blockMs: 200 });
  });
  afterAll(async () => {
    await hubA.close();
    await hubB.close();
    const keys = await redisA.keys(`${prefix}*`);
    if (keys.length) await redisA.del(...keys);
    await redisA.quit();
    await redisB.quit();
  });

  it('is what createByok recognises in an ioredis client', () => {
    expect(isRedisChatRunClient(redisA)).toBe(true);
    expect(isRedisChatRunClient({ eval: async () => 1 })).toBe(false);
  });

  it('replays exactly the chunks after a position on another instance, then ends with the run', async () => {
    const runId = randomUUID();
    for (let p = 1; p <= 5; p++) await hubA.publish(chunkAt(runId, p));
    await hubA.end(runId);
    expect(await collect(await hubB.subscribe(runId, 0))).toEqual([1, 2, 3, 4, 5].map((p) => chunkAt(runId, p)));
    expect(await collect(await hubB.subscribe(runId, 3))).toEqual([chunkAt(runId, 4), chunkAt(runId, 5)]);
    expect(await collect(await hubB.subscribe(runId, 5))).toEqual([]);
  });

  it('follows the live tail from another instance with no gap and no duplicate', async () => {
    const runId = randomUUID();
    await hubA.publish(chunkAt(runId, 1));
    await hubA.publish(chunkAt(runId, 2));
    const tail = collect(await hubB.subscribe(runId, 1));
    for (let p = 3; p <= 40; p++) {
      await hubA.publish(chunkAt(runId, p));
      if (p % 10 === 0) await new Promise((r) => setTimeout(r, 30));
    }
    await hubA.end(runId);
    expect((await tail).map((e) => e.position)).toEqual(Array.from({ length: 39 }, (_, i) => i + 2));
  });

  it('knows nothing of a run it never saw, and refuses a replay whose start was trimmed away', async () => {
    expect(await hubB.subscribe(randomUUID(), 0)).toBeUndefined();
    const small = new RedisChatRunHub({ client: redisA, prefix, maxLen: 3 });
    const runId = randomUUID();
    for (let p = 1; p <= 6; p++) await small.publish(chunkAt(runId, p));
    await small.end(runId);
    expect(await hubB.subscribe(runId, 0)).toBeUndefined();
    expect(await hubB.subscribe(runId, 2)).toBeUndefined();
    expect((await collect(await hubB.subscribe(runId, 3))).map((e) => e.position)).toEqual([4, 5, 6]);
    await small.close();
  });

  it('lets the log expire after the run ended', async () => {
    const short = new RedisChatRunHub({ client: redisA, prefix, ttlMs: 150 });
    const runId = randomUUID();
    await short.publish(chunkAt(runId, 1));
    expect(await redisA.pttl(`${prefix}run:${runId}`)).toBeGreaterThan(150);
    await short.end(runId);
    expect(await redisA.pttl(`${prefix}run:${runId}`)).toBeLessThanOrEqual(150);
    await new Promise((r) => setTimeout(r, 300));
    expect(await hubB.subscribe(runId, 0)).toBeUndefined();
    await short.close();
  });

  it('ends a tail whose run log expired because its owner died without ending it', async () => {
    const dying = new RedisChatRunHub({ client: redisA, prefix, liveTtlMs: 300 });
    const runId = randomUUID();
    await dying.publish(chunkAt(runId, 1));
    const started = Date.now();
    expect((await collect(await hubB.subscribe(runId, 0))).map((e) => e.position)).toEqual([1]);
    expect(Date.now() - started).toBeLessThan(5_000);
    await dying.close();
  });

  it('stops a tail when its signal aborts, without waiting for the block to time out', async () => {
    const slow = new RedisChatRunHub({ client: redisB, prefix, blockMs: 30_000 });
    const runId = randomUUID();
    await hubA.publish(chunkAt(runId, 1));
    const controller = new AbortController();
    const tail = collect(await slow.subscribe(runId, 0, controller.signal));
    await new Promise((r) => setTimeout(r, 100));
    const before = Date.now();
    controller.abort();
    expect((await tail).map((e) => e.position)).toEqual([1]);
    expect(Date.now() - before).toBeLessThan(1_000);
    await hubA.end(runId);
    await slow.close();
  });

  it('serves readers on the owning instance from memory, with no Redis connection of their own', async () => {
    let connections = 0;
    const counting = new Proxy(redisA, {
      get(target, name, receiver) {
        if (name === 'duplicate') {
          return () => {
            connections += 1;
            return target.duplicate();
          };
        }
        const value = Reflect.get(target, name, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const owner = new RedisChatRunHub({ client: counting, prefix, blockMs: 200 });
    const other = new RedisChatRunHub({ client: counting, prefix, blockMs: 200 });
    const runId = randomUUID();
    await owner.publish(chunkAt(runId, 1));
    const sender = collect(await owner.subscribe(runId, 0));
    const reconnect = collect(await owner.subscribe(runId, 1));
    for (let p = 2; p <= 6; p++) await owner.publish(chunkAt(runId, p));
    await owner.end(runId);
    expect((await sender).map((e) => e.position)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await reconnect).map((e) => e.position)).toEqual([2, 3, 4, 5, 6]);
    expect(connections).toBe(0);
    // another instance has no memory of the run: it reads Redis on a connection of its own
    expect((await collect(await other.subscribe(runId, 4))).map((e) => e.position)).toEqual([5, 6]);
    expect(connections).toBe(1);
    await owner.close();
    await other.close();
  });

  it('carries a stop request to the instance that owns the run, and says whether anyone heard it', async () => {
    const runId = randomUUID();
    let stops = 0;
    const off = hubA.onStop(runId, () => {
      stops += 1;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(await hubB.requestStop(runId)).toBe(true);
    await expect.poll(() => stops).toBe(1);
    expect(await hubB.requestStop(randomUUID())).toBe(false);
    off();
    await new Promise((r) => setTimeout(r, 100));
    expect(await hubB.requestStop(runId)).toBe(false);
    expect(stops).toBe(1);
  });

  it('stops a run owned by the same instance at once', async () => {
    const runId = randomUUID();
    let stopped = false;
    const off = hubA.onStop(runId, () => {
      stopped = true;
    });
    expect(await hubA.requestStop(runId)).toBe(true);
    expect(stopped).toBe(true);
    off();
  });
});

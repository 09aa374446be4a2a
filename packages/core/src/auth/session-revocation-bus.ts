import { randomUUID } from 'node:crypto';
import type { Logger } from '../util/logger';

/**
 * Tells the other instances that sessions were revoked, so strict mode's short
 * per-instance cache of "this sid is live" is dropped everywhere at once instead of
 * expiring on its own.
 */
export interface SessionRevocationBus {
  publish(): Promise<void>;
  /** Calls `onRevoked` for revocations published by other instances. */
  subscribe(onRevoked: () => void): Promise<void>;
  close(): Promise<void>;
}

/** The slice of an ioredis client the bus uses (typed here so core needs no Redis dependency). */
export interface RedisPubSubClient {
  publish(channel: string, message: string): Promise<unknown>;
  duplicate(): RedisSubscriber;
}

export interface RedisSubscriber {
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  quit(): Promise<unknown>;
}

/** True when a client can carry the bus (ioredis can; a bare `eval` client cannot). */
export function isRedisPubSubClient(client: unknown): client is RedisPubSubClient {
  return typeof (client as RedisPubSubClient)?.publish === 'function' && typeof (client as RedisPubSubClient)?.duplicate === 'function';
}

/**
 * A bus over Redis pub/sub: one message per revocation on `channel`, carrying only the
 * sender's random instance id (never a session id or user id).
 *
 * @example
 * const bus = redisSessionRevocationBus(new Redis(url));
 */
export function redisSessionRevocationBus(client: RedisPubSubClient, options: { channel?: string; logger?: Logger } = {}): SessionRevocationBus {
  const channel = options.channel ?? 'byok:sessions:revoked';
  const instance = randomUUID();
  let subscriber: RedisSubscriber | undefined;
  return {
    async publish() {
      try {
        await client.publish(channel, instance);
      } catch (err) {
        // revocation already holds in the database; other instances catch up when their cache expires
        options.logger?.warn({ err }, 'byok auth: could not publish a session revocation');
      }
    },
    async subscribe(onRevoked) {
      subscriber = client.duplicate();
      subscriber.on('message', (from, message) => {
        if (from === channel && message !== instance) onRevoked();
      });
      await subscriber.subscribe(channel);
    },
    async close() {
      await subscriber?.quit();
      subscriber = undefined;
    },
  };
}

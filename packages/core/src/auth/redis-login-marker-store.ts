import { ByokError } from '../errors';
import { wholeMs } from '../util/bounded-cache';
import type { LoginMarkerStore } from './login-marker-store';

/** The slice of a Redis client the marker store uses: `SET key value PX ms NX`, as ioredis provides it. */
export interface RedisSetClient {
  set(key: string, value: string, px: 'PX', milliseconds: number, nx: 'NX'): Promise<unknown>;
}

/** Options for {@link RedisLoginMarkerStore}. */
export interface RedisLoginMarkerStoreOptions {
  client: RedisSetClient;
  /** Prepended to every key (default `byok:once:`). */
  prefix?: string;
}

/**
 * Single-use login markers shared by every instance: one `SET … PX … NX` per marker,
 * which only the first caller wins.
 *
 * @example
 * import Redis from 'ioredis';
 * const markers = new RedisLoginMarkerStore({ client: new Redis(process.env.REDIS_URL!) });
 */
export class RedisLoginMarkerStore implements LoginMarkerStore {
  readonly #client: RedisSetClient;
  readonly #prefix: string;

  constructor(options: RedisLoginMarkerStoreOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix ?? 'byok:once:';
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    let reply: unknown;
    try {
      reply = await this.#client.set(this.#prefix + key, '1', 'PX', wholeMs(ttlMs), 'NX');
    } catch (cause) {
      throw new ByokError('internal', 'Login marker store is unavailable', { cause });
    }
    return reply === 'OK';
  }
}

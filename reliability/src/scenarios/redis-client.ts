// ioredis, loaded from @byok/core's own dev dependency: @byok/reliability does not list
// ioredis yet (it should: ioredis@5.11.1, the version the lockfile already has). Once it
// does, this becomes a plain `import Redis from 'ioredis'`.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ByokRedisClient } from '@byok/core';

export interface RedisOptions {
  host: string;
  port: number;
  keyPrefix?: string;
  maxRetriesPerRequest?: number | null;
  connectTimeout?: number;
  retryStrategy?: (times: number) => number | null;
  enableOfflineQueue?: boolean;
}

export type RedisClient = ByokRedisClient & {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  disconnect(): void;
  quit(): Promise<unknown>;
  keys(pattern: string): Promise<string[]>;
  del(...keys: string[]): Promise<number>;
  status: string;
};

type RedisConstructor = new (options: RedisOptions) => RedisClient;

function load(): RedisConstructor {
  const local = createRequire(import.meta.url);
  try {
    return local('ioredis') as RedisConstructor;
  } catch {
    const fromCore = createRequire(fileURLToPath(new URL('../../../packages/core/package.json', import.meta.url)));
    return fromCore('ioredis') as RedisConstructor;
  }
}

/** A new ioredis client. */
export function newRedis(options: RedisOptions): RedisClient {
  const Redis = load();
  return new Redis(options);
}

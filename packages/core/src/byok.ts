import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { auditOperations } from './audit/audit-operations';
import { AuditService, type AuditCheckpointOptions } from './audit/audit-service';
import type { AuditActionRegistry } from './audit/audit-actions';
import { ByokError } from './errors';
import { createHttpSurface, type Authenticate, type HttpSurface, type RateLimitCheck } from './http/http-handler';
import { defineOperation } from './http/operation';
import { openApiDocument } from './http/openapi';
import type { ByokRequest } from './http/types';
import { createStore } from './store/create-store';
import type { Store } from './store/store';
import { systemClock, type Clock } from './util/clock';
import { ByokEventBus } from './util/events';
import { safeLogger, type Logger } from './util/logger';
import { usersOperations } from './users/users-operations';
import { UsersService, type UsersOptions } from './users/users-service';
import { z } from 'zod';

export type DatabaseOption = Kysely<any> | { sqlite: string } | { postgres: string } | { mysql: string } | { memory: true };

export interface ByokOptions {
  /**
   * Where byok keeps its tables: a host's Kysely instance (queried through
   * `withoutPlugins()`), a `{ sqlite }`, `{ postgres }` or `{ mysql }` config, or
   * `{ memory: true }`. Default: SQLite at `./data/byok.db`.
   */
  database?: DatabaseOption;
  /** Prefix of every byok table, its migration tables included. Default `byok_`. */
  tablePrefix?: string;
  /** Apply pending migrations at start (default true). `byok migrate` does it otherwise. */
  migrate?: boolean;
  /** A pino-shaped logger; everything is sanitised before it reaches it. */
  logger?: Logger;
  clock?: Clock;
  users?: Omit<UsersOptions, 'beforeUserCreate'>;
  hooks?: Pick<UsersOptions, 'beforeUserCreate'>;
  audit?: { actions?: AuditActionRegistry; checkpoints?: AuditCheckpointOptions };
  http?: {
    /**
     * How to identify the caller of an HTTP operation. The auth capability supplies
     * this; a host with its own sign-in can pass a function returning `{ userId, via: 'host' }`.
     */
    authenticate?: Authenticate;
    rateLimit?: RateLimitCheck;
    /** Derives the client IP from a request; default: the TCP peer (trust no proxy). */
    clientIp?: (request: ByokRequest) => string | null;
  };
}

export interface Byok {
  readonly store: Store;
  readonly users: UsersService;
  readonly audit: AuditService;
  readonly http: HttpSurface;
  readonly events: ByokEventBus;
  readonly logger: Logger;
  /** Flushes audit checkpoints and closes what byok opened (never a host's Kysely pool). */
  close(): Promise<void>;
}

/**
 * The composition root: one call wires the store, services and the HTTP surface.
 *
 * @example
 * const byok = await createByok({ database: { postgres: process.env.DATABASE_URL! } });
 * app.use('/api', byokRouter(byok));
 * process.on('SIGTERM', () => byok.close());
 */
export async function createByok(options: ByokOptions = {}): Promise<Byok> {
  const logger = safeLogger(options.logger);
  const clock = options.clock ?? systemClock;
  const database = options.database ?? defaultSqlite();
  const store = await createStore({
    database,
    ...(options.tablePrefix !== undefined ? { tablePrefix: options.tablePrefix } : {}),
    migrate: options.migrate ?? true,
    clock,
  });
  const events = new ByokEventBus(logger);
  const audit = new AuditService({
    store,
    clock,
    logger,
    ...(options.audit?.actions ? { actions: options.audit.actions } : {}),
    ...(options.audit?.checkpoints ? { checkpoints: options.audit.checkpoints } : {}),
  });
  const users = new UsersService(store, audit, events, clock, { ...options.users, ...options.hooks });

  const http = createHttpSurface({
    authenticate: options.http?.authenticate ?? (async () => null),
    ...(options.http?.rateLimit ? { rateLimit: options.http.rateLimit } : {}),
    clientIp: options.http?.clientIp ?? ((request) => request.remoteAddress ?? null),
    logger,
  });
  for (const op of [...usersOperations(users), ...auditOperations(audit)]) http.add(op);
  http.add(
    defineOperation({
      kind: 'raw',
      name: 'openapi',
      summary: 'The OpenAPI document of this surface',
      auth: 'none',
      produces: 'json',
      input: z.object({}),
      http: { method: 'GET', path: '/openapi.json' },
      handler: async () => ({ status: 200, body: openApiDocument(http.operations()) }),
    }),
  );

  let closed = false;
  return {
    store,
    users,
    audit,
    http,
    events,
    logger,
    async close() {
      if (closed) return;
      closed = true;
      await audit.close();
      await store.close();
    },
  };
}

function defaultSqlite(): { sqlite: string } {
  const file = resolve('data', 'byok.db');
  try {
    mkdirSync(dirname(file), { recursive: true });
  } catch (error) {
    throw new ByokError('config_invalid', `Cannot create ${dirname(file)} for the default SQLite database`, { cause: error });
  }
  return { sqlite: file };
}

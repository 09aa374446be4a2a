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
import type { KmsDriver } from './kms/kms-driver';
import { localKms } from './kms/local-kms';
import { lazyKms } from './kms/lazy-kms';
import type { LlmProvider } from './llm/llm-provider';
import type { DekCacheOptions } from './vault/dek-cache';
import { KeyVault, type KeyVaultOptions } from './vault/key-vault';
import { createSealer, type Sealer } from './vault/sealer';
import { keyVaultOperations } from './vault/key-vault-operations';
import { authOperations } from './auth/auth-operations';
import { createAuthCapability, type ByokAuthOptions } from './auth/auth-capability';
import type { AuthService } from './auth/auth-service';
import type { RateLimiter } from './http/rate-limit/rate-limiter';

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
  /**
   * The KMS that wraps every data key: `localKms()` (default; master keys from
   * `BYOK_MASTER_KEYS` or `BYOK_MASTER_KEY_FILE`), `awsKms()`, `gcpKms()`. Several:
   * the first seals, all open (moving between KMSs).
   */
  kms?: KmsDriver | KmsDriver[];
  /** Model providers users can store keys for: `gemini()`, `openaiCompatible({...})`. */
  providers?: LlmProvider[];
  /** The key vault: validation policy and the data-key cache. */
  keyVault?: KeyVaultOptions & { cache?: DekCacheOptions | false };
  users?: Omit<UsersOptions, 'beforeUserCreate'>;
  hooks?: Pick<UsersOptions, 'beforeUserCreate'>;
  audit?: { actions?: AuditActionRegistry; checkpoints?: AuditCheckpointOptions };
  /**
   * Sign-in and sessions: `{ issuers, baseUrl, allowedOrigins, jwt, strict, linking,
   * cookieSecret }`, plus `trustProxy`, `rateLimits` and `redis`, which apply to every
   * operation. Without issuers, `byok.auth` is null (a host with its own sign-in).
   */
  auth?: ByokAuthOptions;
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
  /** Sign-in, sessions, `authenticate()`; null when `auth.issuers` is not configured. */
  readonly auth: AuthService | null;
  /** Rate limits per operation class, per IP and per user (and chat stream leases). */
  readonly rateLimiter: RateLimiter;
  /** Users' model API keys: validated, sealed, write-only. */
  readonly keyVault: KeyVault;
  /** Envelope encryption under the configured KMS (also for host secrets). */
  readonly sealer: Sealer;
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
  const sealer = createSealer({
    kms: options.kms ?? (options.providers?.length ? localKms() : lazyKms(() => localKms(), 'local')),
    ...(options.keyVault?.cache !== undefined ? { cache: options.keyVault.cache } : {}),
  });
  const users = new UsersService(store, audit, events, clock, { ...options.users, ...options.hooks }, sealer);
  const keyVault = new KeyVault({ store, sealer, audit, clock, providers: options.providers ?? [], ...(options.keyVault ? { options: options.keyVault } : {}) });

  const authCapability = await createAuthCapability(options.auth, { store, repositories: store, users, audit, sealer, clock, logger });
  const { auth, rateLimiter } = authCapability;

  const http = createHttpSurface({
    authenticate: options.http?.authenticate ?? (auth ? (request, intent) => auth.authenticate(request, intent) : async () => null),
    rateLimit: options.http?.rateLimit ?? ((limitClass, key) => rateLimiter.check(limitClass, key)),
    clientIp: options.http?.clientIp ?? authCapability.clientIp,
    logger,
  });
  for (const op of [...usersOperations(users), ...auditOperations(audit), ...keyVaultOperations(keyVault), ...(auth ? authOperations(auth) : [])]) http.add(op);
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
    keyVault,
    sealer,
    auth,
    rateLimiter,
    http,
    events,
    logger,
    async close() {
      if (closed) return;
      closed = true;
      await auth?.close();
      await audit.close();
      await sealer.close();
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

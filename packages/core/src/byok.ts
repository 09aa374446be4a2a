import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { auditOperations } from './audit/audit-operations';
import { AuditService, type AuditCheckpointOptions } from './audit/audit-service';
import type { AuditActionRegistry } from './audit/audit-actions';
import { ByokError } from './errors';
import { createHttpSurface, type Authenticate, type HttpSurface } from './http/http-handler';
import { openApiOperations } from './http/openapi-operations';
import type { ByokRequest } from './http/types';
import { createStore } from './store/create-store';
import type { Store } from './store/store';
import { systemClock, type Clock } from './util/clock';
import { ByokEventBus } from './util/events';
import { safeLogger, type Logger } from './util/logger';
import { initTelemetry } from './util/telemetry';
import { usersOperations } from './users/users-operations';
import { UsersService, type UsersOptions } from './users/users-service';
import type { KmsDriver } from './kms/kms-driver';
import { localKms } from './kms/local-kms';
import { lazyKms } from './kms/lazy-kms';
import type { LlmProvider } from './llm/llm-provider';
import type { DekCacheOptions } from './vault/dek-cache';
import { KeyVault, type KeyVaultOptions } from './vault/key-vault';
import { createSealer, type Sealer } from './vault/sealer';
import { keyVaultOperations } from './vault/key-vault-operations';
import { authOperations } from './auth/auth-operations';
import type { AuthOptions } from './auth/auth-options';
import { AuthService } from './auth/auth-service';
import type { LoginMarkerStore } from './auth/login-marker-store';
import { MemoryLoginMarkerStore } from './auth/memory-login-marker-store';
import { RedisLoginMarkerStore, type RedisSetClient } from './auth/redis-login-marker-store';
import { isRedisPubSubClient, redisSessionRevocationBus, type RedisPubSubClient } from './auth/session-revocation-bus';
import { assertTrustProxy, clientIp, UNKNOWN_IP, type TrustProxy } from './http/client-ip';
import { MemoryRateLimitStore } from './http/rate-limit/memory-rate-limit-store';
import { RateLimiter, type RateLimiterOptions } from './http/rate-limit/rate-limiter';
import { RedisRateLimitStore, type RedisEvalClient } from './http/rate-limit/redis-rate-limit-store';
import type { DatabaseConfig } from './store/kysely/connect';
import { ChatService, type ChatOptions } from './chat/chat-service';
import { ChatContentSealer, sealedContentStore, type MemoryOptions } from './chat/sealed-content';
import { chatOperations } from './chat/chat-operations';
import { isRedisChatRunClient, RedisChatRunHub } from './chat/chat-run-hub-redis';

/**
 * Where byok keeps its tables: a host's Kysely instance, a database byok opens itself
 * with its connection options (`{ postgres: url, poolSize, preparedStatements }`,
 * `{ mysql: url, poolSize }`, `{ sqlite: file, busyTimeoutMs }`), or `{ memory: true }`.
 */
export type DatabaseOption = Kysely<any> | DatabaseConfig | { memory: true } | { store: Store };

/**
 * The slice of an ioredis client byok uses: `eval` (rate limits), `set … PX … NX`
 * (single-use login markers) and, for strict mode's revocation bus, `publish` and
 * `duplicate`. Typed here so core needs no Redis dependency.
 */
export type ByokRedisClient = RedisEvalClient & RedisSetClient & Partial<RedisPubSubClient>;

/**
 * Per-class overrides of the rate limits (`false` turns a class off), and the limit on
 * concurrent chat streams per user.
 */
export type RateLimitsOption = NonNullable<RateLimiterOptions['limits']> & { chatStream?: RateLimiterOptions['chatStream'] };

export interface ByokOptions {
  /** Where byok keeps its tables (see {@link DatabaseOption}). Default: SQLite at `./data/byok.db`. */
  database?: DatabaseOption;
  /** Prefix of every byok table, its migration tables included. Default `byok_`. */
  tablePrefix?: string;
  /** Apply pending migrations at start (default true). `byok migrate` does it otherwise. */
  migrate?: boolean;
  /** A pino-shaped logger; everything is sanitised before it reaches it. */
  logger?: Logger;
  /** Where byok reads the time (`now()` in epoch ms). Default the system clock; tests pass a fake one. */
  clock?: Clock;
  /**
   * The KMS that wraps every data key: `localKms()` (default; master keys from
   * `BYOK_MASTER_KEYS` or `BYOK_MASTER_KEY_FILE`), `awsKms()`, `gcpKms()`. Several:
   * the first seals, all open (moving between KMSs).
   */
  kms?: KmsDriver | KmsDriver[];
  /** Model providers users can store keys for: `gemini()`, `openaiCompatible({...})`. */
  providers?: LlmProvider[];
  /** The key vault: its validation policy and data-key cache. */
  keyVault?: KeyVaultOptions & { cache?: DekCacheOptions | false };
  /** User profiles: the schema of the host-defined `custom` field. */
  users?: Omit<UsersOptions, 'beforeUserCreate'>;
  /** Host hooks that can veto an action. */
  hooks?: Pick<UsersOptions, 'beforeUserCreate'>;
  /** The audit trail: the host's own actions and the signed checkpoints that pin the chains. */
  audit?: {
    /** The host's audit actions, each with its metadata allow-list (`defineAuditActions`), beside byok's built-in ones. */
    actions?: AuditActionRegistry;
    /**
     * Signed checkpoints written outside the database. Without them `byok audit verify`
     * can show only that each chain is internally consistent.
     */
    checkpoints?: AuditCheckpointOptions;
  };
  /**
   * State shared by several instances (an ioredis client): rate-limit counters, chat
   * stream slots, live chat runs (so any instance resumes or stops any reply),
   * single-use login markers and, in strict mode, session revocations. Without it each
   * instance keeps them in memory.
   */
  redis?: ByokRedisClient;
  /** Rate limits of every operation class, per client IP and per user. */
  rateLimits?: RateLimitsOption;
  /**
   * Sign-in and sessions: `{ issuers, baseUrl, allowedOrigins, jwt, strict, linking,
   * cookieSecret }`. Without it `byok.auth` is null (a host with its own sign-in passes
   * `http.authenticate`).
   */
  auth?: AuthOptions;
  /**
   * Chat turns: the lease of a streaming reply (`leaseMs`, default 30 s; recovery runs at
   * start and then every lease), the tool step bound (`maxSteps`, default 5), the context
   * window (`context: { maxMessages, tokenBudget }`) and whether a client that leaves
   * stops its reply (`abortOnDisconnect`, default false).
   */
  chat?: ChatOptions;
  /**
   * How chat content is stored: `{ sealContent: true }` seals message text and parts and
   * session titles under a per-user data key (see {@link MemoryOptions}). Default plain.
   */
  memory?: MemoryOptions;
  /** How HTTP requests are identified: the caller, and the client IP behind proxies. */
  http?: {
    /**
     * How to identify the caller of an HTTP operation. `auth` supplies this; a host with
     * its own sign-in passes a function returning `{ userId, via: 'host' }`.
     */
    authenticate?: Authenticate;
    /**
     * The proxies trusted to append `X-Forwarded-For`, which is how the client IP is found:
     * a hop count, CIDRs, or a function of (address, hop index). Default `false`: the TCP
     * peer is the client.
     */
    trustProxy?: TrustProxy;
  };
}

export interface Byok<Auth extends AuthService | null = AuthService | null> {
  readonly store: Store;
  readonly users: UsersService;
  readonly audit: AuditService;
  /** Sign-in, sessions, `authenticate()`; null when the `auth` option is not given. */
  readonly auth: Auth;
  /** Rate limits per operation class, per IP and per user (and chat stream leases). */
  readonly rateLimiter: RateLimiter;
  /** Users' model API keys: validated, sealed, write-only. */
  readonly keyVault: KeyVault;
  /** Chat sessions, messages as branches, and streamed, stored, resumable replies. */
  readonly chat: ChatService;
  /** Envelope encryption under the configured KMS (also for host secrets). */
  readonly sealer: Sealer;
  readonly http: HttpSurface;
  readonly events: ByokEventBus;
  readonly logger: Logger;
  /** Flushes audit checkpoints and closes what byok opened (never a host's Kysely pool). */
  close(): Promise<void>;
}

/**
 * The composition root: one call wires the store, services and the HTTP surface. With
 * the `auth` option, `byok.auth` is typed as present.
 *
 * @example
 * import { byokRouter } from '@byok/express';
 * const byok = await createByok({ database: { postgres: process.env.DATABASE_URL!, poolSize: 20 } });
 * app.use('/api', byokRouter(byok));
 * process.on('SIGTERM', () => byok.close());
 *
 * @example
 * const byok = await createByok({
 *   auth: { issuers: [google({ clientId: process.env.GOOGLE_CLIENT_ID!, clientSecret: process.env.GOOGLE_CLIENT_SECRET! })], baseUrl: 'https://api.example', allowedOrigins: ['https://app.example'] },
 * });
 * await byok.auth.createSession(userId); // no null check: auth is configured
 */
export function createByok(options: ByokOptions & { auth: AuthOptions }): Promise<Byok<AuthService>>;
export function createByok(options?: ByokOptions & { auth?: undefined }): Promise<Byok<null>>;
export function createByok(options?: ByokOptions): Promise<Byok>;
export async function createByok(options: ByokOptions = {}): Promise<Byok> {
  const logger = safeLogger(options.logger);
  const clock = options.clock ?? systemClock;
  const clientIpOf = requestClientIp(options.http?.trustProxy ?? false);
  const store = await createStore({
    database: options.database ?? defaultSqlite(),
    ...(options.tablePrefix !== undefined ? { tablePrefix: options.tablePrefix } : {}),
    migrate: options.migrate ?? true,
    clock,
  });
  // Spans and metrics when the host has @opentelemetry/api; nothing otherwise.
  await initTelemetry();
  const events = new ByokEventBus(logger);
  let audit: AuditService | undefined;
  let sealer: Sealer | undefined;
  let auth: AuthService | null = null;
  let chat: ChatService | undefined;
  let chatHub: RedisChatRunHub | undefined;
  let recovery: ReturnType<typeof setInterval> | undefined;
  try {
    audit = new AuditService({
      store,
      clock,
      logger,
      ...(options.audit?.actions ? { actions: options.audit.actions } : {}),
      ...(options.audit?.checkpoints ? { checkpoints: options.audit.checkpoints } : {}),
    });
    sealer = createSealer({
      kms: options.kms ?? (options.providers?.length ? localKms() : lazyKms(() => localKms(), 'local')),
      ...(options.keyVault?.cache !== undefined ? { cache: options.keyVault.cache } : {}),
    });
    // Under memory.sealContent the services that read and write chat content see it opened;
    // the database holds it sealed.
    const sealContent = (options.memory as { sealContent?: unknown } | null | undefined)?.sealContent;
    if ((options.memory !== undefined && (typeof options.memory !== 'object' || options.memory === null)) || (sealContent !== undefined && typeof sealContent !== 'boolean')) {
      throw new ByokError('config_invalid', 'memory.sealContent must be true or false');
    }
    let contentStore: Store = store;
    if (sealContent === true) {
      const content = new ChatContentSealer(sealer);
      contentStore = sealedContentStore(store, content);
      events.on('user.deleted', ({ userId }) => content.evict(userId));
    }
    if (options.chat?.onUsage !== undefined && typeof options.chat.onUsage !== 'function') throw new ByokError('config_invalid', 'chat.onUsage must be a function');
    const users = new UsersService({ store: contentStore, audit, events, clock, sealer, options: { ...options.users, ...options.hooks } });
    const keyVault = new KeyVault({ store, sealer, audit, clock, providers: options.providers ?? [], ...(options.keyVault ? { options: options.keyVault } : {}) });
    const redis = options.redis;
    const { chatStream, ...limits } = options.rateLimits ?? {};
    const rateLimiter = new RateLimiter({
      store: redis ? new RedisRateLimitStore({ client: redis }) : new MemoryRateLimitStore({ clock }),
      limits,
      ...(chatStream !== undefined ? { chatStream } : {}),
    });
    // With Redis, any instance resumes or stops a run that another one produces.
    chatHub = redis && isRedisChatRunClient(redis) ? new RedisChatRunHub({ client: redis, logger }) : undefined;
    chat = new ChatService({
      store: contentStore,
      keyVault,
      ...(chatHub ? { hub: chatHub } : {}),
      providers: options.providers ?? [],
      audit,
      rateLimiter,
      refuseUnverifiedKeys: options.keyVault?.allowUnverified === false,
      clock,
      logger,
      options: {
        ...options.chat,
        // Every stored reply is a `message.completed` event, and the host's hook hears it too.
        onUsage: (usage) => {
          events.emit('message.completed', usage);
          options.chat?.onUsage?.(usage);
        },
      },
    });
    // Replies left streaming by an instance that died are marked incomplete once their lease
    // has passed: now, and then every lease.
    const recoverChat = chat;
    const recover = (): Promise<void> =>
      recoverChat.recoverExpired().then(
        () => undefined,
        (err: unknown) => logger.error({ err }, 'byok chat: recovery of expired replies failed'),
      );
    await recover();
    recovery = setInterval(() => void recover(), recoverChat.leaseMs);
    recovery.unref?.();
    if (options.auth) {
      const loginMarkers: LoginMarkerStore = redis ? new RedisLoginMarkerStore({ client: redis }) : new MemoryLoginMarkerStore({ clock });
      auth = await AuthService.create({
        options: options.auth,
        store,
        users,
        audit,
        sealer,
        clock,
        logger,
        loginMarkers,
        rateLimiter,
        ...(options.auth.strict && isRedisPubSubClient(redis) ? { revocationBus: redisSessionRevocationBus(redis, { logger }) } : {}),
      });
    }
    const signedIn = auth;

    const http = createHttpSurface({
      authenticate: options.http?.authenticate ?? (signedIn ? (request, intent) => signedIn.authenticate(request, intent) : async () => null),
      rateLimit: (limitClass, key) => rateLimiter.check(limitClass, key),
      clientIp: clientIpOf,
      logger,
    });
    for (const op of [...usersOperations(users), ...auditOperations(audit), ...keyVaultOperations(keyVault), ...chatOperations({ chat, store }), ...(signedIn ? authOperations(signedIn) : [])]) http.add(op);
    for (const operation of openApiOperations(() => http.operations())) http.add(operation);

    const opened = { audit, sealer, chat, chatHub };
    let closed = false;
    return {
      store,
      users,
      audit,
      keyVault,
      chat,
      sealer,
      auth,
      rateLimiter,
      http,
      events,
      logger,
      async close() {
        if (closed) return;
        closed = true;
        clearInterval(recovery);
        await opened.chat.close();
        await opened.chatHub?.close();
        await signedIn?.close();
        await opened.audit.close();
        await opened.sealer.close();
        await store.close();
      },
    };
  } catch (error) {
    // A bad option found after the database opened: close what was opened.
    clearInterval(recovery);
    await chat?.close();
    await chatHub?.close();
    await auth?.close();
    await audit?.close();
    await sealer?.close();
    await store.close();
    throw error;
  }
}

/** The client IP of a request under `trustProxy` (checked up front); null when unknown. */
function requestClientIp(trustProxy: TrustProxy): (request: ByokRequest) => string | null {
  assertTrustProxy(trustProxy);
  return (request) => {
    const ip = clientIp({ remoteAddress: request.remoteAddress, forwardedFor: request.headers['x-forwarded-for'] }, trustProxy);
    return ip === UNKNOWN_IP ? null : ip;
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

import { isRedisPubSubClient, redisSessionRevocationBus } from './session-revocation-bus';
import { clientIp as pickClientIp, UNKNOWN_IP, assertTrustProxy, type TrustProxy } from '../http/client-ip';
import { MemoryRateLimitStore } from '../http/rate-limit/memory-rate-limit-store';
import type { RateLimitStore } from '../http/rate-limit/rate-limit-store';
import { RateLimiter, type RateLimiterOptions } from '../http/rate-limit/rate-limiter';
import { RedisRateLimitStore, type RedisEvalClient } from '../http/rate-limit/redis-rate-limit-store';
import type { ByokRequest } from '../http/types';
import { AuthService, type AuthOptions, type AuthServiceDeps } from './auth-service';

/** The `auth` option of `createByok`: sign-in and sessions, plus client IP and rate-limit settings. */
export interface ByokAuthOptions extends Partial<AuthOptions> {
  /** Proxies trusted to append `X-Forwarded-For`: a hop count or CIDRs. Default: none. */
  trustProxy?: TrustProxy;
  /** Per-class overrides of the rate limits (`false` turns a class off). */
  rateLimits?: RateLimiterOptions['limits'];
  /** Concurrent chat streams per user. */
  chatStream?: RateLimiterOptions['chatStream'];
  /**
   * Share rate limits and single-use login states between instances through Redis (an
   * ioredis client); in strict mode it also carries session revocations to every instance.
   */
  redis?: RedisEvalClient;
}

/** What {@link createAuthCapability} wires into `createByok`. */
export interface AuthCapability {
  /** Null when no issuers are configured (a host with its own sign-in). */
  auth: AuthService | null;
  rateLimiter: RateLimiter;
  rateLimitStore: RateLimitStore;
  /** The client IP of a request under `trustProxy` (IPv6 is bucketed by /64 in the limiter). */
  clientIp(request: ByokRequest): string | null;
}

/**
 * Builds the rate limiter, the client-IP function and — when issuers are configured —
 * the {@link AuthService}.
 *
 * @example
 * const { auth, rateLimiter, clientIp } = await createAuthCapability(options.auth, { store, repositories: store, users, audit, sealer, clock, logger });
 */
export async function createAuthCapability(
  options: ByokAuthOptions | undefined,
  deps: Omit<AuthServiceDeps, 'usedOnce'>,
): Promise<AuthCapability> {
  const trustProxy = options?.trustProxy ?? false;
  assertTrustProxy(trustProxy);
  const store: RateLimitStore = options?.redis
    ? new RedisRateLimitStore({ client: options.redis })
    : new MemoryRateLimitStore({ clock: deps.clock });
  const rateLimiter = new RateLimiter({
    store,
    ...(options?.rateLimits ? { limits: options.rateLimits } : {}),
    ...(options?.chatStream !== undefined ? { chatStream: options.chatStream } : {}),
  });
  const clientIp = (request: ByokRequest): string | null => {
    const ip = pickClientIp({ remoteAddress: request.remoteAddress, forwardedFor: request.headers['x-forwarded-for'] }, trustProxy);
    return ip === UNKNOWN_IP ? null : ip;
  };
  let auth: AuthService | null = null;
  if (options?.issuers && options.issuers.length > 0) {
    auth = await AuthService.create(
      {
        ...options,
        issuers: options.issuers,
        baseUrl: options.baseUrl ?? '',
        allowedOrigins: options.allowedOrigins ?? [],
      },
      {
        ...deps,
        usedOnce: store,
        rateLimiter,
        ...(options.strict && isRedisPubSubClient(options.redis)
          ? { revocationBus: redisSessionRevocationBus(options.redis, { logger: deps.logger }) }
          : {}),
      },
    );
  }
  return { auth, rateLimiter, rateLimitStore: store, clientIp };
}

import { ByokError } from '../../errors';
import { rateLimitBucket } from '../client-ip';
import { MemoryRateLimitStore } from './memory-rate-limit-store';
import type { ConcurrencyLease, ConcurrencyStore, RateLimitResult, RateLimitStore } from './rate-limit-store';

/** The request classes byok rate-limits, each per client IP and per user. */
export type RateLimitClass = 'login_start' | 'login_callback' | 'refresh' | 'key_test' | 'key_set' | 'chat_send';

export const RATE_LIMIT_CLASSES: readonly RateLimitClass[] = [
  'login_start',
  'login_callback',
  'refresh',
  'key_test',
  'key_set',
  'chat_send',
];

/** Limits of one class. `null` turns that dimension off. */
export interface RateLimitRule {
  windowMs: number;
  /** Requests per window per client IP (IPv6 counted per /64). */
  perIp: number | null;
  /** Requests per window per signed-in user. */
  perUser: number | null;
}

/** The concurrent chat stream limit per user. */
export interface StreamLimitRule {
  perUser: number;
  /** A slot lapses after this long unless renewed (a crashed instance frees its slots). */
  leaseMs: number;
}

/**
 * Defaults: generous for people, tight for scripts. Logins are per IP only (no user
 * yet); key tests call the provider with the candidate key, so they are the tightest.
 */
export const DEFAULT_RATE_LIMITS: Readonly<Record<RateLimitClass, RateLimitRule>> = Object.freeze({
  login_start: { windowMs: 60_000, perIp: 20, perUser: null },
  login_callback: { windowMs: 60_000, perIp: 20, perUser: null },
  refresh: { windowMs: 60_000, perIp: 120, perUser: 60 },
  key_test: { windowMs: 60_000, perIp: 20, perUser: 10 },
  key_set: { windowMs: 60_000, perIp: 20, perUser: 10 },
  chat_send: { windowMs: 60_000, perIp: 120, perUser: 30 },
});

export const DEFAULT_STREAM_LIMIT: Readonly<StreamLimitRule> = Object.freeze({ perUser: 3, leaseMs: 120_000 });

/** Options for {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Counter store; default a {@link MemoryRateLimitStore}. */
  store?: RateLimitStore;
  /** Lease store for concurrent streams; default the `store` if it is one, else memory. */
  concurrency?: ConcurrencyStore;
  /** Per-class overrides; `false` turns a class off. */
  limits?: Partial<Record<RateLimitClass, Partial<RateLimitRule> | false>>;
  /** Concurrent stream limit override; `false` turns it off. */
  chatStream?: Partial<StreamLimitRule> | false;
  /** Suggested wait when the stream limit refuses (default 1 s). */
  streamRetryAfterMs?: number;
}

/** Who is making a request, as far as rate limits care. */
export interface RateLimitSubject {
  ip?: string | null;
  userId?: string | null;
}

/**
 * Enforces byok's rate limits in core, per call (a tRPC batch counts each call), per
 * client IP and per user. A refusal is a ByokError `rate_limited` with
 * `details.retryAfterMs`.
 *
 * @example
 * // byok.rateLimiter, configured by createByok({ rateLimits: { chat_send: { perUser: 10 } } })
 * await byok.rateLimiter.check('chat_send', { ip: '203.0.113.9', userId });
 * const lease = await byok.rateLimiter.acquireStream(userId);
 * try {
 *   // stream the reply
 * } finally {
 *   await lease.release();
 * }
 */
export class RateLimiter {
  readonly #store: RateLimitStore;
  readonly #concurrency: ConcurrencyStore;
  readonly #rules: Record<RateLimitClass, RateLimitRule | false>;
  readonly #stream: StreamLimitRule | false;
  readonly #streamRetryAfterMs: number;

  constructor(options: RateLimiterOptions = {}) {
    const memory = options.store && options.concurrency ? undefined : new MemoryRateLimitStore();
    this.#store = options.store ?? memory!;
    this.#concurrency = options.concurrency ?? (isConcurrencyStore(options.store) ? options.store : memory!);
    for (const cls of Object.keys(options.limits ?? {})) {
      if (!isRateLimitClass(cls)) {
        throw new ByokError('config_invalid', `rateLimits has an unknown class "${cls}"; the classes are ${RATE_LIMIT_CLASSES.join(', ')} (and chatStream)`);
      }
    }
    this.#rules = {} as Record<RateLimitClass, RateLimitRule | false>;
    for (const cls of RATE_LIMIT_CLASSES) {
      const override = options.limits?.[cls];
      this.#rules[cls] = override === false ? false : validateRule(cls, { ...DEFAULT_RATE_LIMITS[cls], ...override });
    }
    const stream = options.chatStream;
    this.#stream = stream === false ? false : { ...DEFAULT_STREAM_LIMIT, ...stream };
    if (this.#stream && (!isPositiveInt(this.#stream.perUser) || !isPositiveInt(this.#stream.leaseMs))) {
      throw new ByokError('config_invalid', 'chatStream limits must be positive integers');
    }
    this.#streamRetryAfterMs = options.streamRetryAfterMs ?? 1000;
  }

  /** The effective rule of a class (`false` when turned off). */
  rule(cls: RateLimitClass): RateLimitRule | false {
    return this.#rules[cls];
  }

  /**
   * Counts one request of class `cls` against its IP and user limits.
   *
   * @throws ByokError `rate_limited` with `details.retryAfterMs`
   */
  async check(cls: RateLimitClass, subject: RateLimitSubject): Promise<void> {
    if (!isRateLimitClass(cls)) throw new ByokError('internal', `Unknown rate limit class: ${String(cls)}`);
    const rule = this.#rules[cls];
    if (rule === false) return;
    const hits: Array<Promise<RateLimitResult>> = [];
    if (rule.perIp !== null) {
      // An unknown peer (a unix socket, a proxy that hides it) is not a free pass: all such
      // requests share one bucket, so the limit fails closed.
      const bucket = subject.ip ? rateLimitBucket(subject.ip) : 'unknown';
      hits.push(this.#store.hit(`${cls}:ip:${bucket}`, rule.windowMs, rule.perIp));
    }
    if (rule.perUser !== null && subject.userId) {
      hits.push(this.#store.hit(`${cls}:user:${subject.userId}`, rule.windowMs, rule.perUser));
    }
    const results = await Promise.all(hits);
    const refused = results.filter((r) => !r.allowed);
    if (refused.length > 0) {
      const retryAfterMs = Math.max(...refused.map((r) => r.retryAfterMs));
      throw new ByokError('rate_limited', 'Too many requests, try again later', { details: { retryAfterMs } });
    }
  }

  /**
   * Takes one of the user's concurrent chat stream slots. Release it when the stream
   * ends; renew it periodically while it runs.
   *
   * @throws ByokError `rate_limited` when the user already has the maximum open
   */
  async acquireStream(userId: string): Promise<ConcurrencyLease> {
    if (this.#stream === false) return { id: 'unlimited', release: async () => {}, renew: async () => true };
    const lease = await this.#concurrency.acquire(`chat_stream:user:${userId}`, this.#stream.perUser, this.#stream.leaseMs);
    if (!lease) {
      throw new ByokError('rate_limited', 'Too many chat replies streaming at once', {
        details: { retryAfterMs: this.#streamRetryAfterMs },
      });
    }
    return lease;
  }
}

function validateRule(cls: string, rule: RateLimitRule): RateLimitRule {
  const ok =
    isPositiveInt(rule.windowMs) &&
    (rule.perIp === null || isPositiveInt(rule.perIp)) &&
    (rule.perUser === null || isPositiveInt(rule.perUser));
  if (!ok) throw new ByokError('config_invalid', `Rate limit for ${cls} must use positive integers (or null)`);
  return rule;
}

function isPositiveInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

/** True when `value` names one of byok's rate limit classes. */
export function isRateLimitClass(value: unknown): value is RateLimitClass {
  return typeof value === 'string' && (RATE_LIMIT_CLASSES as readonly string[]).includes(value);
}

function isConcurrencyStore(value: unknown): value is ConcurrencyStore {
  return typeof (value as { acquire?: unknown } | undefined)?.acquire === 'function';
}

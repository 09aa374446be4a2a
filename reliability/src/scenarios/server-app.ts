// One byok server for the scenarios: createByok + @byok/express on a real HTTP listener,
// configured from plain JSON (so the same code runs in-process or as a child process that
// the crash scenario kills). Beside byok's routes under /api it answers GET /__rel/stats
// with the process's own figures: RSS, heap and the event-loop delay measured inside it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import express from 'express';
import { newRedis, type RedisClient } from './redis-client';
import { createByok, fileCheckpointSink, localKms, oidc, type AuthService, type Byok, type ByokOptions, type KmsDriver } from '@byok/core';
import { byokRouter } from '@byok/express';
import { gemini } from '@byok/gemini';
import { anthropic } from '@byok/anthropic';
import { awsKms } from '@byok/kms-aws';

export const APP_ORIGIN = 'http://app.reliability.test';

/** Everything a scenario server needs, as JSON. */
export interface ServerConfig {
  /** PostgreSQL connection string. */
  postgres: string;
  /** `BYOK_MASTER_KEYS` form: `2:<base64>,1:<base64>`. */
  masterKeys: string;
  cookieSecret: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  geminiUrl: string;
  anthropicUrl?: string;
  /** Port to listen on (0: any). The auth base URL is this server's own `/api`. */
  port: number;
  /** Another server's `/api` to use as the auth base (sign-in callbacks) instead. */
  authBase?: string;
  leaseMs?: number;
  strict?: boolean;
  redis?: { host: string; port: number; keyPrefix: string };
  trustProxy?: number;
  /** Rate limits; default: every class off. */
  rateLimits?: ByokOptions['rateLimits'];
  checkpoints?: { signingKey: string; file: string };
  sealContent?: boolean;
  /** Skip migrations (a second instance on a migrated database). */
  migrate?: boolean;
  /** AWS KMS (its stand-in) instead of the local master keys, with fast bounded retries. */
  awsKms?: { endpoint: string; region: string; keyId: string };
  /** Turn the data-key cache off (every open goes to the KMS). */
  noDekCache?: boolean;
}

export interface ScenarioServer {
  byok: Byok<AuthService>;
  base: string;
  port: number;
  redis: RedisClient | null;
  close(): Promise<void>;
}

export const RATE_LIMITS_OFF: NonNullable<ByokOptions['rateLimits']> = {
  login_start: false,
  login_callback: false,
  refresh: false,
  key_test: false,
  key_set: false,
  chat_send: false,
  chatStream: false,
};

/** Starts one server; `kms` replaces the local KMS (the fault scenario's AWS KMS). */
export async function startScenarioServer(config: ServerConfig, extra: { kms?: KmsDriver; logger?: ByokOptions['logger']; options?: Partial<ByokOptions> } = {}): Promise<ScenarioServer> {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let app: express.Express | null = null;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    if (app) return app(req, res);
    res.statusCode = 503;
    res.end();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}/api`;
  const redis = config.redis ? newRedis({ host: config.redis.host, port: config.redis.port, keyPrefix: config.redis.keyPrefix, maxRetriesPerRequest: 1, connectTimeout: 1_000, retryStrategy: (n) => Math.min(n * 100, 500) }) : null;
  redis?.on('error', () => undefined);
  const byok = await createByok({
    database: { postgres: config.postgres, poolSize: 20 },
    ...(config.migrate === false ? { migrate: false } : {}),
    kms:
      extra.kms ??
      (config.awsKms
        ? awsKms({ ...config.awsKms, credentials: { accessKeyId: 'AKIDRELIABILITY', secretAccessKey: 'reliability-only' }, retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 100, attemptTimeoutMs: 400 } })
        : localKms({ keys: config.masterKeys })),
    ...(config.noDekCache ? { keyVault: { cache: false as const } } : {}),
    providers: [gemini({ baseUrl: config.geminiUrl }), ...(config.anthropicUrl ? [anthropic({ baseUrl: config.anthropicUrl })] : [])],
    ...(extra.logger ? { logger: extra.logger } : {}),
    rateLimits: config.rateLimits ?? RATE_LIMITS_OFF,
    ...(redis ? { redis } : {}),
    chat: { leaseMs: config.leaseMs ?? 30_000 },
    ...(config.sealContent ? { memory: { sealContent: true } } : {}),
    ...(config.trustProxy !== undefined ? { http: { trustProxy: config.trustProxy } } : {}),
    ...(config.checkpoints ? { audit: { checkpoints: { signingKey: config.checkpoints.signingKey, sinks: [fileCheckpointSink(config.checkpoints.file)], every: 10, intervalMs: 1_000 } } } : {}),
    auth: {
      issuers: [oidc({ id: 'dev', issuer: config.issuer, clientId: config.clientId, clientSecret: config.clientSecret, development: true })],
      baseUrl: config.authBase ?? base,
      allowedOrigins: [APP_ORIGIN],
      cookieSecret: config.cookieSecret,
      ...(config.strict ? { strict: { cacheMs: 60_000 } } : {}),
    },
    ...extra.options,
  });
  const started = Date.now();
  const e = express();
  e.get('/__rel/stats', (req, res) => {
    // ?gc=1 collects garbage first (when the process runs with --expose-gc), so heapUsed is the live heap.
    const gc = (globalThis as { gc?: () => void }).gc;
    const collected = req.query.gc === '1' && typeof gc === 'function';
    if (collected) gc();
    const m = process.memoryUsage();
    res.json({
      uptimeMs: Date.now() - started,
      collected,
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      eventLoopDelayMs: { p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6, mean: histogram.mean / 1e6 },
    });
  });
  e.post('/__rel/stats/reset', (_req, res) => {
    histogram.reset();
    res.json({ ok: true });
  });
  e.use('/api', byokRouter(byok));
  app = e;
  let closing: Promise<void> | null = null;
  return {
    byok,
    base,
    port,
    redis,
    close() {
      closing ??= (async () => {
        histogram.disable();
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await byok.close();
        redis?.disconnect();
      })();
      return closing;
    },
  };
}

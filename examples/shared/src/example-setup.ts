import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { ByokError, google, localKms, oidc, type ByokOptions, type KmsDriver, type LlmProvider, type Logger } from '@byok/core';
import { anthropic } from '@byok/anthropic';
import { gemini } from '@byok/gemini';
import { openaiCompatible } from '@byok/openai-compatible';
import { checkpointOptions, readCheckpointKey } from './audit-checkpoints.js';
import { exampleDatabase } from './example-database.js';
import { resolveExampleMode, type Env, type ExampleMode } from './example-mode.js';
import { startOfflineServices, type OfflineServices } from './offline-services.js';

/** The model providers an example offers, and the models its page lets a user pick. */
export const EXAMPLE_PROVIDERS = {
  gemini: { label: 'Google Gemini', models: ['gemini-2.5-flash', 'gemini-2.5-pro'] },
  openai: { label: 'OpenAI-compatible', models: ['gpt-4o-mini', 'gpt-4o'] },
  anthropic: { label: 'Anthropic', models: ['claude-haiku-5-5', 'claude-sonnet-5-5'] },
} as const;

export type ExampleProviderId = keyof typeof EXAMPLE_PROVIDERS;

/** What the page learns from `GET /example/config.json`. */
export interface ExamplePageConfig {
  mode: 'offline' | 'google';
  /** Which host serves the page (shown in its header). */
  host: string;
  /** The issuer id the page signs in with (`/api/auth/login/<id>`). */
  issuer: 'dev' | 'google';
  providers: Array<{ id: string; label: string; models: string[]; sampleKey: string | null }>;
  offline: { issuer: string; users: Array<{ sub: string; name: string; email: string }>; standIns: Record<string, string> } | null;
}

/** Options of {@link prepareExample}. */
export interface PrepareExampleOptions {
  /** Where configuration is read. */
  env: Env;
  /** The address the server listens on (offline mode requires a loopback one). */
  host: string;
  /** The server's own origin, e.g. `http://127.0.0.1:3000` (offline mode's browser-facing origin). */
  localOrigin: string;
  /** Folder for SQLite and, offline, the generated master-key file, checkpoint key pair and checkpoint file. */
  dataDir: string;
  /** Port of the offline development issuer (0: a free one). */
  issuerPort?: number;
  /** Name of the host framework for the page and the log (`Express`, `NestJS`, `tRPC`). */
  hostName: string;
  /** The OAuth client id at the development issuer. */
  clientId?: string;
  logger?: Logger;
}

/** Everything decided before a host creates byok: its options, what the page is told, and the stand-ins. */
export interface PreparedExample {
  readonly mode: ExampleMode;
  /** The page's origin: the local one offline, `PUBLIC_URL` otherwise. */
  readonly url: string;
  readonly byokOptions: ByokOptions;
  readonly pageConfig: ExamplePageConfig;
  /** The offline stand-ins; null with Google sign-in. */
  readonly offline: OfflineServices | null;
  /** Where signed audit checkpoints are appended (`byok audit verify --checkpoints <file>`). */
  readonly checkpointFile: string;
  /** Stops the stand-ins and closes the Redis client (after byok has closed). */
  close(): Promise<void>;
}

/**
 * Decides how an example runs and builds byok's options for it: offline mode (see
 * `resolveExampleMode`) with the development issuer, the provider stand-ins, a generated
 * master key and checkpoint key under `dataDir`; or Google sign-in and the real provider
 * APIs. In either mode `DATABASE_URL` picks PostgreSQL or MySQL and `REDIS_URL` shares state
 * between instances; with Google sign-in `BYOK_KMS=aws|gcp` seals keys with AWS KMS or Cloud
 * KMS instead of local master keys. Every example writes signed audit checkpoints.
 *
 * @throws ByokError `config_invalid` when the configuration is refused or incomplete
 * @example
 * const prepared = await prepareExample({ env: process.env, host: '127.0.0.1', localOrigin: 'http://127.0.0.1:3000', dataDir: 'data', hostName: 'Express' });
 * const byok = await createByok(prepared.byokOptions);
 */
export async function prepareExample(options: PrepareExampleOptions): Promise<PreparedExample> {
  const { env } = options;
  const mode = resolveExampleMode(env, options.host);
  mkdirSync(options.dataDir, { recursive: true });
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    await Promise.allSettled(closers.reverse().map((fn) => fn()));
  };
  try {
    const shared: ByokOptions = {
      database: exampleDatabase(env, options.dataDir),
      // A new chat is named after its first exchange, by the chat's own provider and key.
      chat: { titles: true },
      ...(options.logger ? { logger: options.logger } : {}),
    };
    const redisUrl = env.REDIS_URL?.trim();
    if (redisUrl) {
      const { Redis } = await load<typeof import('ioredis')>('ioredis');
      const redis = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 });
      closers.push(() => redis.quit().catch(() => redis.disconnect()));
      shared.redis = redis;
    }

    if (mode.kind === 'offline') {
      const offline = await startOfflineServices({
        appOrigin: options.localOrigin,
        dataDir: options.dataDir,
        ...(options.issuerPort !== undefined ? { issuerPort: options.issuerPort } : {}),
        ...(options.clientId ? { clientId: options.clientId } : {}),
      });
      closers.push(() => offline.close());
      const origin = options.localOrigin;
      const byokOptions: ByokOptions = {
        ...shared,
        kms: localKms({ keyFile: offline.keyFile }),
        audit: { checkpoints: checkpointOptions({ signingKey: offline.checkpointKey, checkpointFile: offline.checkpointFile }) },
        providers: [
          gemini({ baseUrl: offline.gemini.url }),
          openaiCompatible({ id: 'openai', baseUrl: offline.openai.url, defaultModel: 'gpt-4o-mini' }),
          anthropic({ baseUrl: offline.anthropic.url, defaultModel: 'claude-haiku-5-5' }),
        ],
        auth: {
          issuers: [oidc({ id: 'dev', issuer: offline.issuer.issuer, clientId: offline.clientId, clientSecret: offline.clientSecret, development: true })],
          baseUrl: `${origin}/api`,
          allowedOrigins: [origin],
          cookieSecret: randomBytes(32).toString('hex'),
        },
      };
      const pageConfig: ExamplePageConfig = {
        mode: 'offline',
        host: options.hostName,
        issuer: 'dev',
        providers: (Object.keys(EXAMPLE_PROVIDERS) as ExampleProviderId[]).map((id) => ({
          id,
          label: EXAMPLE_PROVIDERS[id].label,
          models: [...EXAMPLE_PROVIDERS[id].models],
          sampleKey: offline.sampleKeys[id],
        })),
        offline: {
          issuer: offline.issuer.issuer,
          users: offline.issuer.users.map(({ sub, name, email }) => ({ sub, name: name ?? sub, email: email ?? '' })),
          standIns: { gemini: offline.gemini.url, openai: offline.openai.url, anthropic: offline.anthropic.url },
        },
      };
      return { mode, url: origin, byokOptions, pageConfig, offline, checkpointFile: offline.checkpointFile, close };
    }

    const origin = mode.publicUrl;
    const signingKey = await readCheckpointKey(mode.checkpointKey);
    const providers = realProviders(env);
    const byokOptions: ByokOptions = {
      ...shared,
      kms: await exampleKms(env),
      audit: { checkpoints: checkpointOptions({ signingKey, checkpointFile: mode.checkpointFile }) },
      providers: providers.map((p) => p.provider),
      auth: {
        issuers: [google({ clientId: mode.clientId, clientSecret: mode.clientSecret })],
        baseUrl: `${origin}/api`,
        allowedOrigins: [origin],
        ...(mode.cookieSecret ? { cookieSecret: mode.cookieSecret } : {}),
      },
    };
    const pageConfig: ExamplePageConfig = {
      mode: 'google',
      host: options.hostName,
      issuer: 'google',
      providers: providers.map(({ id, label, models }) => ({ id, label, models, sampleKey: null })),
      offline: null,
    };
    return { mode, url: origin, byokOptions, pageConfig, offline: null, checkpointFile: mode.checkpointFile, close };
  } catch (error) {
    await close();
    throw error;
  }
}

const list = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * The real providers: `BYOK_PROVIDERS` (default `gemini,openai,anthropic`); the
 * OpenAI-compatible one at `OPENAI_BASE_URL` (default `https://api.openai.com/v1`), models
 * offered on the page from `OPENAI_MODELS` / `GEMINI_MODELS` / `ANTHROPIC_MODELS`
 * (comma-separated) when set. Users bring their own keys: none is configured here.
 */
function realProviders(env: Env): Array<{ id: string; label: string; models: string[]; provider: LlmProvider }> {
  const wanted = list(env.BYOK_PROVIDERS);
  const ids = wanted.length > 0 ? wanted : (Object.keys(EXAMPLE_PROVIDERS) as string[]);
  const out: Array<{ id: string; label: string; models: string[]; provider: LlmProvider }> = [];
  for (const id of ids) {
    if (!(id in EXAMPLE_PROVIDERS)) {
      throw new ByokError('config_invalid', `BYOK_PROVIDERS: unknown provider ${id} (gemini, openai, anthropic)`);
    }
    const known = EXAMPLE_PROVIDERS[id as ExampleProviderId];
    const models = list(env[`${id.toUpperCase()}_MODELS`]);
    const shown = models.length > 0 ? models : [...known.models];
    let provider: LlmProvider;
    if (id === 'gemini') provider = gemini();
    else if (id === 'anthropic') provider = anthropic({ defaultModel: shown[0]! });
    else provider = openaiCompatible({ id: 'openai', baseUrl: env.OPENAI_BASE_URL?.trim() || 'https://api.openai.com/v1', defaultModel: shown[0]! });
    out.push({ id, label: known.label, models: shown, provider });
  }
  return out;
}

/**
 * The KMS that seals keys with Google sign-in: `BYOK_KMS=aws` (AWS KMS, `AWS_KMS_KEY_ID` and
 * the SDK's own credentials and `AWS_REGION`), `BYOK_KMS=gcp` (Cloud KMS, `GCP_KMS_KEY_NAME`
 * and Application Default Credentials), or local master keys (`BYOK_MASTER_KEYS` /
 * `BYOK_MASTER_KEY_FILE`, the default). The server and an example's `byok.config.ts` use it.
 *
 * @throws ByokError `config_invalid` when `BYOK_KMS` is unknown or its key is not named
 * @example
 * const kms = await exampleKms({ BYOK_KMS: 'aws', AWS_KMS_KEY_ID: 'alias/byok' });
 */
export async function exampleKms(env: Env): Promise<KmsDriver> {
  const kind = (env.BYOK_KMS ?? 'local').trim();
  if (kind === 'aws') {
    const keyId = env.AWS_KMS_KEY_ID?.trim();
    if (!keyId) throw new ByokError('config_invalid', 'BYOK_KMS=aws needs AWS_KMS_KEY_ID (a key id, ARN or alias)');
    const { awsKms } = await load<typeof import('@byok/kms-aws')>('@byok/kms-aws');
    return awsKms({ keyId, ...(env.AWS_REGION?.trim() ? { region: env.AWS_REGION.trim() } : {}) });
  }
  if (kind === 'gcp') {
    const keyName = env.GCP_KMS_KEY_NAME?.trim();
    if (!keyName) throw new ByokError('config_invalid', 'BYOK_KMS=gcp needs GCP_KMS_KEY_NAME (projects/…/locations/…/keyRings/…/cryptoKeys/…)');
    const { gcpKms } = await load<typeof import('@byok/kms-gcp')>('@byok/kms-gcp');
    return gcpKms({ keyName });
  }
  if (kind !== 'local') throw new ByokError('config_invalid', `BYOK_KMS must be local, aws or gcp, not ${kind}`);
  return localKms({ env });
}

/**
 * Loads a module only when its mode needs it (a cloud KMS client, Redis), in the module
 * system the caller runs in: `require` in the CommonJS build (the NestJS example), so byok's
 * CommonJS core and the driver share one copy of core; `import()` from ESM.
 */
async function load<T>(id: string): Promise<T> {
  return typeof require === 'function' ? (require(id) as T) : ((await import(id)) as T);
}

import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createByok, google, localKms, oidc, type Byok, type ByokOptions, type Logger } from '@byok/core';
import { handleNodeRequest } from '@byok/core/http';
import { gemini } from '@byok/gemini';
import { createByokContext } from '@byok/trpc';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { exampleRouter } from './app-router';
import { resolveExampleMode } from './example-mode';
import { examplePage } from './example-page';
import { startOfflineServices, type OfflineServices } from './offline-services';

/** The example's gitignored `data/` folder. */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../data', import.meta.url));

/** The largest request body the tRPC endpoint reads, as on byok's HTTP routes. */
const MAX_BODY_BYTES = 1024 * 1024;
/** The most calls one tRPC batch may carry (each is still authenticated and rate limited on its own). */
const MAX_BATCH_SIZE = 100;

/**
 * The example's database: `DATABASE_URL` (postgres://… or mysql://…) or SQLite at
 * `<dataDir>/byok.db`.
 *
 * @example
 * exampleDatabase({}, 'data'); // → { sqlite: 'data/byok.db' }
 */
export function exampleDatabase(env: Readonly<Record<string, string | undefined>>, dataDir: string): NonNullable<ByokOptions['database']> {
  const url = env.DATABASE_URL?.trim();
  if (url?.startsWith('postgres')) return { postgres: url };
  if (url?.startsWith('mysql')) return { mysql: url };
  return { sqlite: join(dataDir, 'byok.db') };
}

/** Options of {@link startExample}. */
export interface StartExampleOptions {
  /** Port to listen on; 0 picks a free one. Default 3002. */
  port?: number;
  /** Address to listen on. Default `127.0.0.1`. Offline mode requires a loopback address. */
  host?: string;
  /** Where configuration is read (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Folder for the SQLite database and, offline, the generated master-key file. Default the example's `data/`. */
  dataDir?: string;
  /** Port of the offline development issuer (default: ephemeral). */
  issuerPort?: number;
  /** Where byok logs (sanitised). Default: nothing. */
  logger?: Logger;
}

/** A running example server. */
export interface RunningExample {
  /** The origin, e.g. `http://127.0.0.1:3002`: tRPC at `<url>/trpc`, byok's HTTP routes at `<url>/api`. */
  readonly url: string;
  readonly mode: 'offline' | 'google';
  readonly byok: Byok;
  /** The offline stand-ins; null with Google sign-in. */
  readonly offline: OfflineServices | null;
  close(): Promise<void>;
}

/**
 * Starts the example: one `node:http` server with byok's generated tRPC router (merged
 * into the host's own) at `/trpc`, and core's HTTP handler at `/api` for what stays
 * HTTP — the OAuth redirects, refresh and sign-out (they set cookies), the JWKS and
 * `/openapi.json`. Without Google configuration it runs offline (see `resolveExampleMode`).
 *
 * @example
 * const example = await startExample({ port: 0 });
 * console.log(`tRPC at ${example.url}/trpc`);
 * await example.close();
 */
export async function startExample(options: StartExampleOptions = {}): Promise<RunningExample> {
  const env = options.env ?? process.env;
  const host = options.host ?? '127.0.0.1';
  const mode = resolveExampleMode(env, host);
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  mkdirSync(dataDir, { recursive: true });

  // Listen first: offline mode registers the callback URL, which contains the port.
  let app: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const server = createServer((req, res) => {
    if (app) return app(req, res);
    res.statusCode = 503;
    res.end('starting');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3002, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const localOrigin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const closeServer = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });

  let offline: OfflineServices | null = null;
  let byok: Byok | null = null;
  try {
    const database = exampleDatabase(env, dataDir);
    const logger = options.logger ? { logger: options.logger } : {};
    if (mode.kind === 'offline') {
      offline = await startOfflineServices({ appOrigin: localOrigin, dataDir, ...(options.issuerPort !== undefined ? { issuerPort: options.issuerPort } : {}) });
      byok = await createByok({
        database,
        ...logger,
        kms: localKms({ keyFile: offline.keyFile }),
        providers: [gemini({ baseUrl: offline.gemini.url })],
        auth: {
          issuers: [oidc({ id: 'dev', issuer: offline.issuer.issuer, clientId: offline.clientId, clientSecret: offline.clientSecret, development: true })],
          baseUrl: `${localOrigin}/api`,
          allowedOrigins: [localOrigin],
          cookieSecret: randomBytes(32).toString('hex'),
        },
      });
    } else {
      byok = await createByok({
        database,
        ...logger,
        kms: localKms({ env }),
        providers: [gemini()],
        auth: {
          issuers: [google({ clientId: mode.clientId, clientSecret: mode.clientSecret })],
          baseUrl: `${mode.publicUrl}/api`,
          allowedOrigins: [mode.publicUrl],
        },
      });
    }
    app = exampleHandler(byok, mode.kind, offline);
  } catch (error) {
    await byok?.close();
    await offline?.close();
    await closeServer();
    throw error;
  }

  const running = byok;
  const services = offline;
  let closing: Promise<void> | null = null;
  return {
    url: mode.kind === 'offline' ? localOrigin : mode.publicUrl,
    mode: mode.kind,
    byok: running,
    offline: services,
    close() {
      closing ??= (async () => {
        await closeServer();
        await running.close();
        await services?.close();
      })();
      return closing;
    },
  };
}

function exampleHandler(byok: Byok, mode: 'offline' | 'google', offline: OfflineServices | null): (req: IncomingMessage, res: ServerResponse) => void {
  const trpc = createHTTPHandler({
    router: exampleRouter(byok),
    createContext: (opts) => ({ ...createByokContext(opts), mode }),
    basePath: '/trpc/',
    maxBodySize: MAX_BODY_BYTES,
    maxBatchSize: MAX_BATCH_SIZE,
  });
  const page = examplePage({ mode, offline });
  return (req, res) => {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'same-origin');
    const url = req.url ?? '/';
    if (url.startsWith('/trpc/')) return trpc(req, res);
    if (url.startsWith('/api/')) return void handleNodeRequest(byok.http, req, res, { url: url.slice('/api'.length) });
    if ((req.method === 'GET' || req.method === 'HEAD') && (url === '/' || url.startsWith('/?'))) {
      res.setHeader('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'");
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.setHeader('cache-control', 'no-store');
      res.end(req.method === 'HEAD' ? undefined : page);
      return;
    }
    res.statusCode = 404;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'No such endpoint' } }));
  };
}

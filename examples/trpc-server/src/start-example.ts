import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createByok, type Byok, type Logger } from '@byok/core';
import { handleNodeRequest } from '@byok/core/http';
import { examplePageHandler, originOf, prepareExample, resolveExampleMode, type OfflineServices, type PageHandler, type PreparedExample } from '@byok/example-shared';
import { createByokContext } from '@byok/trpc';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { exampleRouter } from './app-router';

/** The example's gitignored `data/` folder. */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../data', import.meta.url));

/** The largest request body the tRPC endpoint reads, as on byok's HTTP routes. */
const MAX_BODY_BYTES = 1024 * 1024;
/** The most calls one tRPC batch may carry (each is still authenticated and rate limited on its own). */
const MAX_BATCH_SIZE = 100;

/** Options of {@link startExample}. */
export interface StartExampleOptions {
  /** Port to listen on; 0 picks a free one. Default 3002. */
  port?: number;
  /** Address to listen on. Default `127.0.0.1`. Offline mode requires a loopback address. */
  host?: string;
  /** Where configuration is read (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Folder for the SQLite database and, offline, the generated master-key file, checkpoint key pair and checkpoints. Default the example's `data/`. */
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
  /** Where signed audit checkpoints are appended (`byok audit verify --checkpoints <file>`). */
  readonly checkpointFile: string;
  readonly prepared: PreparedExample;
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
  resolveExampleMode(env, host);
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;

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
  const localOrigin = originOf(host, (server.address() as AddressInfo).port);
  const closeServer = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });

  let prepared: PreparedExample | null = null;
  let byok: Byok | null = null;
  try {
    prepared = await prepareExample({
      env,
      host,
      localOrigin,
      dataDir,
      hostName: 'tRPC',
      clientId: 'byok-trpc-example',
      ...(options.issuerPort !== undefined ? { issuerPort: options.issuerPort } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    byok = await createByok(prepared.byokOptions);
    app = exampleHandler(byok, prepared.mode.kind, examplePageHandler(prepared.pageConfig));
  } catch (error) {
    await byok?.close();
    await prepared?.close();
    await closeServer();
    throw error;
  }

  const running = byok;
  const ready = prepared;
  let closing: Promise<void> | null = null;
  return {
    url: ready.url,
    mode: ready.mode.kind,
    byok: running,
    offline: ready.offline,
    checkpointFile: ready.checkpointFile,
    prepared: ready,
    close() {
      closing ??= (async () => {
        await closeServer();
        await running.close();
        await ready.close();
      })();
      return closing;
    },
  };
}

function exampleHandler(byok: Byok, mode: 'offline' | 'google', page: PageHandler): (req: IncomingMessage, res: ServerResponse) => void {
  const trpc = createHTTPHandler({
    router: exampleRouter(byok),
    createContext: (opts) => ({ ...createByokContext(opts), mode }),
    basePath: '/trpc/',
    maxBodySize: MAX_BODY_BYTES,
    maxBatchSize: MAX_BATCH_SIZE,
  });
  return (req, res) => {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'same-origin');
    const url = req.url ?? '/';
    if (url.startsWith('/trpc/')) return trpc(req, res);
    // The chat page calls byok's HTTP routes with @byok/client; tRPC clients use /trpc.
    if (url.startsWith('/api/')) return void handleNodeRequest(byok.http, req, res, { url: url.slice('/api'.length) });
    if (page(req, res)) return;
    res.statusCode = 404;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'No such endpoint' } }));
  };
}

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createByok, type Byok, type Logger } from '@byok/core';
import { byokRouter } from '@byok/express';
import { examplePageHandler, originOf, prepareExample, resolveExampleMode, type OfflineServices } from '@byok/example-shared';
import express from 'express';

/** The example's gitignored `data/` folder. */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../data', import.meta.url));

/** Options of {@link startExample}. */
export interface StartExampleOptions {
  /** Port to listen on; 0 picks a free one. Default 3000. */
  port?: number;
  /** Address to listen on. Default `127.0.0.1`. Offline mode requires a loopback address. */
  host?: string;
  /** Where configuration is read (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Folder for the SQLite database and, offline, the generated master-key file, checkpoint
   * key pair and checkpoint file. Default the example's `data/`.
   */
  dataDir?: string;
  /** Port of the offline development issuer (default: ephemeral). */
  issuerPort?: number;
  /** Where byok logs (sanitised). Default: nothing. */
  logger?: Logger;
}

/** A running example server. */
export interface RunningExample {
  /** The page's origin, e.g. `http://127.0.0.1:3000`. */
  readonly url: string;
  readonly mode: 'offline' | 'google';
  readonly byok: Byok;
  /** The offline stand-ins; null with Google sign-in. */
  readonly offline: OfflineServices | null;
  /** Where signed audit checkpoints are appended (`byok audit verify --checkpoints <file>`). */
  readonly checkpointFile: string;
  /** The lines the start command prints. */
  readonly prepared: Awaited<ReturnType<typeof prepareExample>>;
  close(): Promise<void>;
}

/**
 * Starts the example: an Express 5 app serving the shared chat page and byok under
 * `/api`. Without Google configuration it runs in offline mode (see `resolveExampleMode`
 * in `@byok/example-shared`).
 *
 * @example
 * const example = await startExample({ port: 0 });
 * console.log(`open ${example.url}`);
 * await example.close();
 */
export async function startExample(options: StartExampleOptions = {}): Promise<RunningExample> {
  const env = options.env ?? process.env;
  const host = options.host ?? '127.0.0.1';
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;

  // Listen first: offline mode registers the callback URL, which contains the port.
  let app: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const server = createServer((req, res) => {
    if (app) return app(req, res);
    res.statusCode = 503;
    res.end('starting');
  });
  // The mode check comes before anything listens or is generated.
  resolveExampleMode(env, host);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, host, () => resolve());
  });
  const localOrigin = originOf(host, (server.address() as AddressInfo).port);
  const closeServer = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });

  let prepared: Awaited<ReturnType<typeof prepareExample>> | null = null;
  let byok: Byok | null = null;
  try {
    prepared = await prepareExample({
      env,
      host,
      localOrigin,
      dataDir,
      hostName: 'Express',
      ...(options.issuerPort !== undefined ? { issuerPort: options.issuerPort } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    byok = await createByok(prepared.byokOptions);
    app = exampleApp(byok, examplePageHandler(prepared.pageConfig));
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

function exampleApp(byok: Byok, page: ReturnType<typeof examplePageHandler>): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use((req, res, next) => {
    if (!page(req, res)) next();
  });
  app.use('/api', byokRouter(byok));
  return app;
}

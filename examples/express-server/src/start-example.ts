import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createByok, google, localKms, oidc, type Byok, type Logger } from '@byok/core';
import { byokRouter } from '@byok/express';
import { gemini } from '@byok/gemini';
import express from 'express';
import { checkpointOptions, readCheckpointKey } from './audit-checkpoints';
import { DEFAULT_DATA_DIR, exampleDatabase } from './example-database';
import { resolveExampleMode } from './example-mode';
import { startOfflineServices, type OfflineServices } from './offline-services';

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

/** What the page learns from `GET /example/config.json`. */
export interface ExamplePageConfig {
  mode: 'offline' | 'google';
  /** The issuer id the page signs in with (`/api/auth/login/<id>`). */
  issuer: 'dev' | 'google';
  offline: { issuer: string; users: { sub: string; name: string; email: string }[]; sampleKey: string; geminiUrl: string } | null;
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
  close(): Promise<void>;
}

const PUBLIC_DIR = fileURLToPath(new URL('../public', import.meta.url));

/**
 * Starts the example: an Express 5 app serving the page from `public/` and byok under
 * `/api`. Without Google configuration it runs in offline mode (see `resolveExampleMode`).
 *
 * @example
 * const example = await startExample({ port: 0 });
 * console.log(`open ${example.url}`);
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
    server.listen(options.port ?? 3000, host, () => resolve());
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
    let pageConfig: ExamplePageConfig;
    let origin: string;
    if (mode.kind === 'offline') {
      origin = localOrigin;
      offline = await startOfflineServices({ appOrigin: origin, dataDir, ...(options.issuerPort !== undefined ? { issuerPort: options.issuerPort } : {}) });
      byok = await createByok({
        database,
        ...(options.logger ? { logger: options.logger } : {}),
        kms: localKms({ keyFile: offline.keyFile }),
        audit: { checkpoints: checkpointOptions({ signingKey: offline.checkpointKey, checkpointFile: offline.checkpointFile }) },
        providers: [gemini({ baseUrl: offline.gemini.url })],
        auth: {
          issuers: [oidc({ id: 'dev', issuer: offline.issuer.issuer, clientId: offline.clientId, clientSecret: offline.clientSecret, development: true })],
          baseUrl: `${origin}/api`,
          allowedOrigins: [origin],
          cookieSecret: randomBytes(32).toString('hex'),
        },
      });
      pageConfig = {
        mode: 'offline',
        issuer: 'dev',
        offline: {
          issuer: offline.issuer.issuer,
          users: offline.issuer.users.map(({ sub, name, email }) => ({ sub, name, email })),
          sampleKey: offline.sampleKey,
          geminiUrl: offline.gemini.url,
        },
      };
    } else {
      origin = mode.publicUrl;
      const signingKey = await readCheckpointKey(mode.checkpointKey);
      byok = await createByok({
        database,
        ...(options.logger ? { logger: options.logger } : {}),
        kms: localKms({ env }),
        audit: { checkpoints: checkpointOptions({ signingKey, checkpointFile: mode.checkpointFile }) },
        providers: [gemini()],
        auth: {
          issuers: [google({ clientId: mode.clientId, clientSecret: mode.clientSecret })],
          baseUrl: `${origin}/api`,
          allowedOrigins: [origin],
          ...(mode.cookieSecret ? { cookieSecret: mode.cookieSecret } : {}),
        },
      });
      pageConfig = { mode: 'google', issuer: 'google', offline: null };
    }
    app = exampleApp(byok, pageConfig);
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
    checkpointFile: mode.kind === 'offline' ? services!.checkpointFile : mode.checkpointFile,
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

function exampleApp(byok: Byok, pageConfig: ExamplePageConfig): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.setHeader(
      'content-security-policy',
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'same-origin');
    next();
  });
  app.get('/example/config.json', (_req, res) => {
    res.setHeader('cache-control', 'no-store');
    res.json(pageConfig);
  });
  app.use('/api', byokRouter(byok));
  app.use(express.static(PUBLIC_DIR));
  return app;
}

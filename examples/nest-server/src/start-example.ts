import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { google, localKms, oidc, type ByokOptions, type Logger } from '@byok/core';
import { gemini } from '@byok/gemini';
import { AppModule, type ExampleSettings } from './app.module';
import { resolveExampleMode } from './example-mode';
import { startOfflineServices, type OfflineServices } from './offline-services';

/** Options of {@link startExample}. */
export interface StartExampleOptions {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Address to listen on; offline mode requires a loopback address. */
  host: string;
  /** Port of the offline development issuer (0: a free one). */
  issuerPort: number;
  env: Readonly<Record<string, string | undefined>>;
  /** The SQLite database and, offline, the generated master-key file. */
  dataDir: string;
  logger?: Logger;
}

/** A running example. */
export interface RunningExample {
  readonly url: string;
  readonly mode: 'offline' | 'google';
  readonly offline: OfflineServices | null;
  close(): Promise<void>;
}

/**
 * Starts the NestJS example: byok mounted by `ByokModule` under `/api`, the host's routes
 * under `/example`. Offline without configuration (see `resolveExampleMode`).
 */
export async function startExample(options: StartExampleOptions): Promise<RunningExample> {
  const mode = resolveExampleMode(options.env, options.host);
  mkdirSync(options.dataDir, { recursive: true });
  // Offline sign-in registers the callback URL, which holds the port: fix it before Nest starts.
  const port = options.port === 0 ? await freePort(options.host) : options.port;
  const localOrigin = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  const database = exampleDatabase(options.env, options.dataDir);
  const logger = options.logger ? { logger: options.logger } : {};

  let offline: OfflineServices | null = null;
  let settings: ExampleSettings;
  if (mode.kind === 'offline') {
    offline = await startOfflineServices({ appOrigin: localOrigin, dataDir: options.dataDir, issuerPort: options.issuerPort });
    settings = {
      byokOptions: {
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
      },
      pageConfig: {
        mode: 'offline',
        issuer: 'dev',
        offline: {
          issuer: offline.issuer.issuer,
          users: offline.issuer.users.map(({ sub, name, email }) => ({ sub, name: name ?? sub, email: email ?? '' })),
          sampleKey: offline.sampleKey,
          geminiUrl: offline.gemini.url,
        },
      },
    };
  } else {
    settings = {
      byokOptions: {
        database,
        ...logger,
        kms: localKms({ env: options.env }),
        providers: [gemini()],
        auth: {
          issuers: [google({ clientId: mode.clientId, clientSecret: mode.clientSecret })],
          baseUrl: `${mode.publicUrl}/api`,
          allowedOrigins: [mode.publicUrl],
        },
      },
      pageConfig: { mode: 'google', issuer: 'google', offline: null },
    };
  }

  let app: INestApplication;
  try {
    app = await NestFactory.create(AppModule.register(settings), { logger: ['error', 'warn'] });
    await app.listen(port, options.host);
  } catch (error) {
    await offline?.close();
    throw error;
  }
  const services = offline;
  let closing: Promise<void> | null = null;
  return {
    url: mode.kind === 'offline' ? localOrigin : mode.publicUrl,
    mode: mode.kind,
    offline: services,
    close() {
      // The app closes byok (ByokModule's closeOnShutdown), then the stand-ins go.
      closing ??= app.close().then(() => services?.close());
      return closing;
    },
  };
}

/** `DATABASE_URL` (postgres://… or mysql://…) or SQLite at `<dataDir>/byok.db`. */
function exampleDatabase(env: Readonly<Record<string, string | undefined>>, dataDir: string): NonNullable<ByokOptions['database']> {
  const url = env.DATABASE_URL;
  if (url?.startsWith('postgres')) return { postgres: url };
  if (url?.startsWith('mysql')) return { mysql: url };
  return { sqlite: join(dataDir, 'byok.db') };
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

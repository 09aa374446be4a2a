import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { ByokOptions, Logger } from '@byok/core';
import { examplePageHandler, freePort, originOf, prepareExample, resolveExampleMode, type PreparedExample } from '@byok/example-shared';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppModule } from './app.module';

/** Options of {@link startExample}. */
export interface StartExampleOptions {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Address to listen on; offline mode requires a loopback address. */
  host: string;
  /** Port of the offline development issuer (0: a free one). */
  issuerPort: number;
  env: Readonly<Record<string, string | undefined>>;
  /** The SQLite database and, offline, the generated master-key file, checkpoint key pair and checkpoints. */
  dataDir: string;
  logger?: Logger;
}

/** A running example. */
export interface RunningExample {
  readonly url: string;
  readonly mode: 'offline' | 'google';
  readonly prepared: PreparedExample;
  close(): Promise<void>;
}

/**
 * Starts the NestJS example: byok mounted by `ByokModule` under `/api`, the host's routes
 * under `/example`, and the shared chat page at `/` (a middleware before Nest's routes).
 * Offline without configuration (see `resolveExampleMode` in `@byok/example-shared`).
 */
export async function startExample(options: StartExampleOptions): Promise<RunningExample> {
  resolveExampleMode(options.env, options.host);
  // Offline sign-in registers the callback URL, which holds the port: fix it before Nest starts.
  const port = options.port === 0 ? await freePort(options.host) : options.port;
  const prepared = await prepareExample({
    env: options.env,
    host: options.host,
    localOrigin: originOf(options.host, port),
    dataDir: options.dataDir,
    issuerPort: options.issuerPort,
    hostName: 'NestJS',
    clientId: 'byok-nest-example',
    ...(options.logger ? { logger: options.logger } : {}),
  });

  let app: INestApplication;
  try {
    const page = examplePageHandler(prepared.pageConfig);
    // @byok/example-shared is typed from its ESM sources, this app from core's CommonJS
    // declarations: the same options at run time (its CommonJS build requires this core).
    const byokOptions = prepared.byokOptions as unknown as ByokOptions;
    app = await NestFactory.create(AppModule.register({ byokOptions, mode: prepared.mode.kind }), { logger: ['error', 'warn'] });
    app.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
      if (!page(req, res)) next();
    });
    await app.listen(port, options.host);
  } catch (error) {
    await prepared.close();
    throw error;
  }
  let closing: Promise<void> | null = null;
  return {
    url: prepared.url,
    mode: prepared.mode.kind,
    prepared,
    close() {
      // The app closes byok (ByokModule's closeOnShutdown), then the stand-ins go.
      closing ??= app.close().then(() => prepared.close());
      return closing;
    },
  };
}

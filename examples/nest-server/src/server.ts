import 'reflect-metadata';
import { join } from 'node:path';
import { isByokError } from '@byok/core';
import { startupLines } from '@byok/example-shared';
import { startExample } from './start-example';

/**
 * The NestJS example: a CommonJS Nest 11 app compiled with `tsc` (`pnpm start` here).
 * Without configuration it runs offline (development OpenID issuer, provider stand-ins,
 * generated master key and audit checkpoint key in data/): loopback only, never with
 * NODE_ENV=production. It serves the same chat page as the Express and tRPC examples.
 */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3100);
  const host = process.env.HOST ?? '127.0.0.1';
  // A fixed issuer port keeps offline users the same across restarts (the issuer URL is part of their identity).
  const issuerPort = Number(process.env.DEV_ISSUER_PORT ?? (port === 0 ? 0 : port + 1));
  const example = await startExample({
    port,
    host,
    issuerPort,
    env: process.env,
    dataDir: process.env.DATA_DIR ?? join(__dirname, '..', 'data'),
    logger: {
      info: (obj, msg) => console.log(msg ?? '', obj),
      warn: (obj, msg) => console.warn(msg ?? '', obj),
      error: (obj, msg) => console.error(msg ?? '', obj),
    },
  });
  for (const line of startupLines({ prepared: example.prepared, url: example.url, hostName: 'NestJS', dir: 'examples/nest-server' })) console.log(line);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void example.close().then(() => process.exit(0));
    });
  }
}

main().catch((error: unknown) => {
  const message = isByokError(error) || error instanceof Error ? error.message : String(error);
  console.error(`byok example did not start: ${message}`);
  process.exit(1);
});

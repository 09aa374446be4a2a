import { isByokError } from '@byok/core';
import { startupLines } from '@byok/example-shared';
import { startExample } from './start-example';

/**
 * The main example: an Express 5 host with byok mounted under /api and the shared chat
 * page at /. `node scripts/run.mjs start` at the repository root installs, builds and
 * starts it; `pnpm --filter @byok/example-express-server start` starts it alone.
 *
 * Without configuration it runs in offline mode (development OpenID issuer, provider
 * stand-ins, generated master key and audit checkpoint key in data/): loopback only, never
 * with NODE_ENV=production. README.md lists the variables for real services.
 */
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
// A fixed issuer port keeps offline users the same across restarts (the issuer URL is part of their identity).
const issuerPort = Number(process.env.DEV_ISSUER_PORT ?? (port === 0 ? 0 : port + 1));

let example;
try {
  example = await startExample({
    port,
    host,
    issuerPort,
    env: process.env,
    ...(process.env.DATA_DIR ? { dataDir: process.env.DATA_DIR } : {}),
    logger: {
      info: (obj, msg) => console.log(msg ?? '', obj),
      warn: (obj, msg) => console.warn(msg ?? '', obj),
      error: (obj, msg) => console.error(msg ?? '', obj),
    },
  });
} catch (error) {
  const message = isByokError(error) || error instanceof Error ? error.message : String(error);
  console.error(`byok example did not start: ${message}`);
  process.exit(1);
}

for (const line of startupLines({ prepared: example.prepared, url: example.url, hostName: 'Express', dir: 'examples/express-server' })) console.log(line);

const running = example;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void running.close().then(() => process.exit(0));
  });
}

import { isByokError } from '@byok/core';
import { startupLines } from '@byok/example-shared';
import { startExample } from './start-example';

/**
 * The tRPC example: byok's generated router merged into a host router at /trpc, core's
 * HTTP handler at /api (sign-in redirects, refresh, sign-out, JWKS, OpenAPI).
 *
 * Without configuration it runs in offline mode (development OpenID issuer, provider
 * stand-ins, generated master key and audit checkpoint key in data/): loopback only, never
 * with NODE_ENV=production. README.md lists the variables for real services. It serves the
 * same chat page as the Express and NestJS examples.
 */
const port = Number(process.env.PORT ?? 3002);
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
  console.error(`byok tRPC example did not start: ${message}`);
  process.exit(1);
}

for (const line of startupLines({
  prepared: example.prepared,
  url: example.url,
  hostName: 'tRPC',
  dir: 'examples/trpc-server',
  extra: [`  tRPC at ${example.url}/trpc (byok's router merged into the host's)`],
})) {
  console.log(line);
}

const running = example;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void running.close().then(() => process.exit(0));
  });
}

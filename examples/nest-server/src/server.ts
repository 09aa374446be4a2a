import 'reflect-metadata';
import { join } from 'node:path';
import { isByokError } from '@byok/core';
import { startExample } from './start-example';

/**
 * The NestJS example: a CommonJS Nest 11 app compiled with `tsc` (`pnpm start` here).
 * Without configuration it runs offline (development OpenID issuer, Gemini stand-in,
 * generated master key in data/): loopback only, never with NODE_ENV=production.
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
  console.log(`byok example (NestJS) listening on ${example.url}`);
  console.log(`  API under ${example.url}/api — OpenAPI at ${example.url}/api/openapi.json`);
  if (example.offline) {
    console.log('  OFFLINE MODE: development sign-in, Gemini stand-in, generated master key (not for production)');
    console.log(`  dev issuer ${example.offline.issuer.issuer} — sign in at ${example.url}/api/auth/login/dev as ${example.offline.issuer.users.map((u) => u.sub).join(' or ')}`);
    console.log(`  Gemini stand-in ${example.offline.gemini.url} — accepts keys starting with AIza, e.g. ${example.offline.sampleKey}`);
  } else {
    console.log(`  Google sign-in: register ${example.url}/api/auth/callback/google as an authorized redirect URI`);
  }
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

import { isByokError } from '@byok/core';
import { startExample } from './start-example';

/**
 * The tRPC example: byok's generated router merged into a host router at /trpc, core's
 * HTTP handler at /api (sign-in redirects, refresh, sign-out, JWKS, OpenAPI).
 *
 * Without configuration it runs in offline mode (development OpenID issuer, Gemini
 * stand-in, generated master key in data/): loopback only, never with
 * NODE_ENV=production. With GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, BYOK_MASTER_KEYS (or
 * BYOK_MASTER_KEY_FILE) and PUBLIC_URL it signs in with Google and talks to Gemini.
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

console.log(`byok example (tRPC) listening on ${example.url}`);
console.log(`  tRPC at ${example.url}/trpc — byok's HTTP routes at ${example.url}/api (OpenAPI at /api/openapi.json)`);
if (example.offline) {
  console.log('  OFFLINE MODE: development sign-in, Gemini stand-in, generated master key (not for production)');
  console.log(`  dev issuer ${example.offline.issuer.issuer} — sign in as ${example.offline.issuer.users.map((u) => u.sub).join(' or ')}`);
  console.log(`  Gemini stand-in ${example.offline.gemini.url} — accepts keys starting with AIza, e.g. ${example.offline.sampleKey}`);
  console.log(`  master-key file ${example.offline.keyFile}`);
} else {
  console.log(`  Google sign-in: register ${example.url}/api/auth/callback/google as an authorized redirect URI`);
}

const running = example;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void running.close().then(() => process.exit(0));
  });
}

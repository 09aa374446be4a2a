import { isByokError } from '@byok/core';
import { startExample } from './start-example';

/**
 * The main example: an Express 5 host with byok mounted under /api and a page at /.
 * `node scripts/run.mjs start` at the repository root installs, builds and starts it.
 *
 * Without configuration it runs in offline mode (development OpenID issuer, Gemini
 * stand-in, generated master key and audit checkpoint key in data/): loopback only, never
 * with NODE_ENV=production. With GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, BYOK_MASTER_KEYS,
 * PUBLIC_URL, BYOK_AUDIT_CHECKPOINT_KEY and BYOK_AUDIT_CHECKPOINT_FILE it signs in with
 * Google and talks to the real Gemini API. Either way signed audit checkpoints go to a
 * file outside the database, which `byok audit verify --checkpoints` checks the trail against.
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

console.log(`byok example (Express) listening on ${example.url}`);
console.log(`  API under ${example.url}/api — OpenAPI at ${example.url}/api/openapi.json`);
if (example.offline) {
  console.log('  OFFLINE MODE: development sign-in, Gemini stand-in, generated master key (not for production)');
  console.log(`  dev issuer ${example.offline.issuer.issuer} — sign in as ${example.offline.issuer.users.map((u) => u.sub).join(' or ')}`);
  console.log(`  Gemini stand-in ${example.offline.gemini.url} — accepts keys starting with AIza, e.g. ${example.offline.sampleKey}`);
  console.log(`  master-key file ${example.offline.keyFile}, audit checkpoint key ${example.offline.checkpointKeyFile}`);
} else {
  console.log(`  Google sign-in: register ${example.url}/api/auth/callback/google as an authorized redirect URI`);
}
console.log(`  signed audit checkpoints → ${example.checkpointFile}`);
console.log(`  verify the trail (in examples/express-server): pnpm exec byok audit verify --checkpoints ${example.checkpointFile}`);

const running = example;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void running.close().then(() => process.exit(0));
  });
}

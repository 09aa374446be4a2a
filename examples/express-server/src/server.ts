import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createByok } from '@byok/core';
import { byokRouter } from '@byok/express';
import express from 'express';

/**
 * The main example: an Express 5 host with byok mounted under /api.
 * `node scripts/run.mjs start` at the repository root installs, builds and starts it.
 */
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';

const byok = await createByok({
  database: process.env.DATABASE_URL?.startsWith('postgres')
    ? { postgres: process.env.DATABASE_URL }
    : process.env.DATABASE_URL?.startsWith('mysql')
      ? { mysql: process.env.DATABASE_URL }
      : { sqlite: fileURLToPath(new URL('../data/byok.db', import.meta.url)) },
  logger: {
    info: (obj, msg) => console.log(msg ?? '', obj),
    warn: (obj, msg) => console.warn(msg ?? '', obj),
    error: (obj, msg) => console.error(msg ?? '', obj),
  },
});

const app = express();
app.disable('x-powered-by');
app.use('/api', byokRouter(byok));
app.use(express.static(fileURLToPath(new URL('../public', import.meta.url))));

const server = createServer(app);
server.listen(port, host, () => {
  console.log(`byok example (Express) listening on http://${host}:${port}`);
  console.log(`  API under http://${host}:${port}/api — OpenAPI at /api/openapi.json`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close();
    void byok.close().then(() => process.exit(0));
  });
}

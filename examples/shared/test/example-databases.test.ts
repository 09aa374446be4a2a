import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createByok } from '@byok/core';
import { handleNodeRequest } from '@byok/core/http';
import { CookieJar, driveLogin } from '@byok/testing/oidc';
import { createTestDatabase, selectedTestDatabases } from '@byok/testing/store';
import { afterAll, describe, expect, it } from 'vitest';
import { examplePageHandler, freePort, OFFLINE_SAMPLE_KEY, originOf, prepareExample } from '../src/index';

const REDIS_URL = process.env.BYOK_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

// DATABASE_URL and REDIS_URL switch an example onto real servers in either mode: here the
// offline mode on each selected database (PostgreSQL and MariaDB in their own new database),
// with Redis, through byok's HTTP routes as the page calls them.
describe.each(selectedTestDatabases().filter((kind) => kind !== 'sqlite'))('examples on %s with Redis (DATABASE_URL, REDIS_URL)', (kind) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'byok-example-db-'));
  let server: Server | undefined;
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    for (const cleanup of cleanups.reverse()) await cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps users and keys in that database, with the Redis client connected', { timeout: 60_000 }, async () => {
    const tdb = await createTestDatabase(kind);
    cleanups.push(() => tdb.drop());
    const url = Object.values(tdb.config)[0] as string;
    const port = await freePort('127.0.0.1');
    const origin = originOf('127.0.0.1', port);
    const prepared = await prepareExample({ env: { DATABASE_URL: url, REDIS_URL }, host: '127.0.0.1', localOrigin: origin, dataDir, hostName: 'Test' });
    cleanups.push(() => prepared.close());
    expect(prepared.byokOptions.database).toEqual(kind === 'postgres' ? { postgres: url } : { mysql: url });
    const redis = prepared.byokOptions.redis as unknown as { ping(): Promise<string> };
    expect(await redis.ping()).toBe('PONG');
    const byok = await createByok(prepared.byokOptions);
    cleanups.push(() => byok.close());
    const page = examplePageHandler(prepared.pageConfig);
    server = createServer((req, res) => {
      if ((req.url ?? '').startsWith('/api/')) return void handleNodeRequest(byok.http, req, res, { url: req.url!.slice('/api'.length) });
      if (!page(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));

    const jar = new CookieJar();
    const start = await fetch(`${origin}/api/auth/login/dev?returnTo=/`, { redirect: 'manual' });
    jar.store(start.url, start.headers);
    const callback = await driveLogin(start.headers.get('location')!, { login: 'bob' });
    const done = await fetch(callback, { redirect: 'manual', headers: { cookie: jar.header(callback) } });
    expect(done.status).toBe(303);
    jar.store(callback, done.headers);
    const headers = { cookie: jar.header(`${origin}/api/`), origin, 'content-type': 'application/json' };
    const set = await fetch(`${origin}/api/keys/gemini`, { method: 'PUT', headers, body: JSON.stringify({ apiKey: OFFLINE_SAMPLE_KEY }) });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ provider: 'gemini', status: 'valid', last4: 'abcd' });

    // The rows are in the example's database, not in SQLite under data/.
    expect(byok.store.dialect).toBe(kind === 'postgres' ? 'postgres' : 'mysql');
    expect(existsSync(join(dataDir, 'byok.db'))).toBe(false);
    const keys = await fetch(`${origin}/api/keys`, { headers });
    expect(((await keys.json()) as { items: Array<{ provider: string }> }).items.map((k) => k.provider)).toEqual(['gemini']);
  });
});

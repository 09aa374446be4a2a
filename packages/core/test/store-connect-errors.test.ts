import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createByok, isByokError } from '@byok/core';
import { selectTestBackends } from '@byok/testing';
import { createStore } from '../src/store/create-store';

// A database that cannot be reached or does not exist is a ByokError that names the host
// and the database — never the password, never a bare driver code.
const SERVERS = {
  postgres: process.env.BYOK_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  mysql: process.env.BYOK_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test',
} as const;
const PASSWORD = 'pw-never-shown-7Q2x';

/** A local port where nothing listens (bound once by the OS, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error('expected a failure');
  return error;
}

function expectNoPassword(error: Error): void {
  const seen = [error.message, String(error.stack), JSON.stringify(error), JSON.stringify((error as { details?: unknown }).details ?? null), String(error.cause ?? '')];
  for (const text of seen) expect(text).not.toContain(PASSWORD);
}

for (const engine of selectTestBackends(['postgres', 'mysql'] as const)) {
  const label = engine === 'postgres' ? 'PostgreSQL' : 'MySQL';
  const url = (change: (u: URL) => void) => {
    const u = new URL(SERVERS[engine]);
    change(u);
    return u.toString();
  };
  const config = (target: string) => (engine === 'postgres' ? { postgres: target } : { mysql: target });

  describe(`opening ${label} that is not there`, () => {
    it('a database that does not exist: database_unavailable naming host, port and database', async () => {
      const target = url((u) => {
        u.pathname = '/app_no_such_database_x1';
        if (engine === 'postgres') u.password = PASSWORD; // trust auth: the server never asks for it
      });
      const error = await failure(createStore({ database: config(target), migrate: false }));
      expect(isByokError(error)).toBe(true);
      expect(error.code).toBe('database_unavailable');
      expect(error.message).toContain(label);
      expect(error.message).toContain('app_no_such_database_x1');
      expect(error.message).toContain(new URL(SERVERS[engine]).hostname);
      expect(error.message).toMatch(/does not exist/);
      expect(error.details).toMatchObject({ database: 'app_no_such_database_x1', reason: 'database_missing' });
      expectNoPassword(error);
    });

    it('a port where nothing listens: database_unavailable, through createByok as well', async () => {
      const port = await closedPort();
      const target = url((u) => {
        u.hostname = '127.0.0.1';
        u.port = String(port);
        u.pathname = '/byok_app';
        u.password = PASSWORD;
      });
      for (const open of [() => createStore({ database: config(target) }), () => createByok({ database: config(target) })]) {
        const error = await failure(open());
        expect(isByokError(error)).toBe(true);
        expect(error.code).toBe('database_unavailable');
        expect(error.message).toContain(`${label} at 127.0.0.1:${port}, database "byok_app"`);
        expect(error.details).toMatchObject({ host: '127.0.0.1', port: String(port), database: 'byok_app', reason: 'connection_refused' });
        expect(error.message).not.toMatch(/ECONNREFUSED/);
        expectNoPassword(error);
      }
    });

    it('a URL that does not parse is config_invalid, without repeating it', async () => {
      const error = await failure(createStore({ database: config(`not a url ${PASSWORD}`) }));
      expect(error.code).toBe('config_invalid');
      expectNoPassword(error);
    });
  });
}

import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import pg from 'pg';
import { z } from 'zod';
import { afterAll, describe, expect, it } from 'vitest';
import { createByok, isByokError, type AuthService, type Byok } from '@byok/core';
import { createTestDatabase, selectTestBackends, type TestDatabase } from '@byok/testing';
import { defineOperation } from '../src/http/operation';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Type-checks snippets against the sources with the repository's compiler settings and
 * returns each snippet's errors: the options' types are part of the contract.
 */
function compile<N extends string>(snippets: Record<N, string>): Record<N, string[]> {
  const configPath = join(here, '..', 'tsconfig.json');
  const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
  const files: Record<string, string> = Object.fromEntries(Object.entries<string>(snippets).map(([name, text]) => [join(here, `__types_${name}.ts`), text]));
  const host = ts.createCompilerHost(config.options);
  const read = host.readFile.bind(host);
  const exists = host.fileExists.bind(host);
  host.readFile = (file) => files[file] ?? read(file);
  host.fileExists = (file) => file in files || exists(file);
  const program = ts.createProgram({ rootNames: Object.keys(files), options: { ...config.options, noEmit: true }, host });
  const out = {} as Record<N, string[]>;
  for (const name of Object.keys(snippets) as N[]) {
    const source = program.getSourceFile(join(here, `__types_${name}.ts`))!;
    out[name] = ts.getPreEmitDiagnostics(program, source).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  }
  return out;
}

const PRELUDE = `
import { createByok, oidc } from '@byok/core';
import { defineOperation } from '../src/http/operation';
import { z } from 'zod';
const issuers = [oidc({ id: 'dev', issuer: 'http://127.0.0.1:9', clientId: 'c', clientSecret: 's', development: true })];
const auth = { issuers, baseUrl: 'http://127.0.0.1:1', allowedOrigins: ['http://127.0.0.1:2'] };
`;

describe('createByok options, as types', () => {
  it('types byok.auth as present with auth, null without; refuses moved options and rate-limit typos', () => {
    const errors = compile({
      withAuth: `${PRELUDE} export async function f() { const byok = await createByok({ auth, rateLimits: { key_test: { perUser: 5 }, chatStream: { perUser: 2 } }, http: { trustProxy: 1 } }); return byok.auth.createSession('u'); }`,
      withoutAuth: `${PRELUDE} export async function f() { const byok = await createByok({ database: { memory: true } }); return byok.auth.createSession('u'); }`,
      trustProxyInAuth: `${PRELUDE} export const p = createByok({ auth: { ...auth, trustProxy: 1 } });`,
      rateLimitsInAuth: `${PRELUDE} export const p = createByok({ auth: { ...auth, rateLimits: {} } });`,
      clientIpOption: `${PRELUDE} export const p = createByok({ http: { clientIp: () => null } });`,
      databaseOptions: `${PRELUDE} export const p = [createByok({ database: { postgres: 'postgres://h/db', poolSize: 4, preparedStatements: false } }), createByok({ database: { sqlite: 'x.db', busyTimeoutMs: 100 } }), createByok({ database: { mysql: 'mysql://h/db', poolSize: 2 } })];`,
      rateLimitTypo: `${PRELUDE} export const op = defineOperation({ kind: 'empty', name: 'x', summary: 'x', auth: 'none', rateLimit: 'key_sett', input: z.object({}), http: { method: 'POST', path: '/x' }, handler: async () => {} });`,
      rateLimitClassTypo: `${PRELUDE} export const p = createByok({ rateLimits: { login_strat: { perIp: 1 } } });`,
    });
    expect(errors.withAuth).toEqual([]);
    expect(errors.databaseOptions).toEqual([]);
    expect(errors.withoutAuth.join('\n')).toMatch(/createSession|never|null/);
    expect(errors.trustProxyInAuth.join('\n')).toMatch(/trustProxy/);
    expect(errors.rateLimitsInAuth.join('\n')).toMatch(/rateLimits/);
    expect(errors.clientIpOption.join('\n')).toMatch(/clientIp/);
    expect(errors.rateLimitTypo.join('\n')).toMatch(/key_sett/);
    expect(errors.rateLimitClassTypo.join('\n')).toMatch(/login_strat/);
  }, 120_000);

  it('the same, as checked by the type-check of this file', () => {
    const op = defineOperation({
      kind: 'empty',
      name: 'typo',
      summary: 'a rate-limit class that does not exist',
      auth: 'none',
      // @ts-expect-error: 'key_sett' is not a RateLimitClass
      rateLimit: 'key_sett',
      input: z.object({}),
      http: { method: 'POST', path: '/typo' },
      handler: async () => {},
    });
    expect(op.name).toBe('typo');
    const typed = (byok: Byok<AuthService>) => byok.auth.createSession;
    // @ts-expect-error: without the auth option, byok.auth is null
    const untyped = (byok: Byok<null>) => byok.auth.createSession;
    expect([typed, untyped]).toHaveLength(2);
  });
});

describe('createByok options, at run time', () => {
  const host = async (request: { headers: Record<string, string | undefined> }) =>
    request.headers['x-user'] ? { userId: request.headers['x-user'], via: 'host' as const } : null;

  it('rate limits and the client IP apply without byok sign-in: both are built by createByok itself', async () => {
    const send = (byok: Byok, forwardedFor: string) =>
      byok.http.handle({
        method: 'POST',
        url: '/keys/gemini/test',
        headers: { 'x-user': 'u1', 'x-forwarded-for': forwardedFor, 'content-type': 'application/json' },
        body: {},
        remoteAddress: '10.0.0.2',
      });
    const behindProxy = await createByok({ database: { memory: true }, rateLimits: { key_test: { perIp: 1, perUser: null } }, http: { trustProxy: 1, authenticate: host } });
    const direct = await createByok({ database: { memory: true }, rateLimits: { key_test: { perIp: 1, perUser: null } }, http: { authenticate: host } });
    try {
      // The limit counts before the handler runs (the provider is unknown here: 400).
      expect((await send(behindProxy, '198.51.100.1')).status).toBe(400);
      expect((await send(behindProxy, '198.51.100.1')).status).toBe(429);
      expect((await send(behindProxy, '198.51.100.2')).status).toBe(400);
      // Trusting no proxy, X-Forwarded-For is ignored: every request is the peer's.
      expect((await send(direct, '198.51.100.1')).status).toBe(400);
      expect((await send(direct, '198.51.100.2')).status).toBe(429);
      expect(behindProxy.auth).toBeNull();
    } finally {
      await behindProxy.close();
      await direct.close();
    }
  });

  it('refuses an unknown rate-limit class and a bad trustProxy at start-up', async () => {
    const unknown = await createByok({ database: { memory: true }, rateLimits: { login_strat: { perIp: 1 } } as never }).catch((e: unknown) => e);
    expect(isByokError(unknown) && unknown.code).toBe('config_invalid');
    expect((unknown as Error).message).toMatch(/login_strat/);
    const badProxy = await createByok({ database: { memory: true }, http: { trustProxy: ['not-a-cidr'] } }).catch((e: unknown) => e);
    expect(isByokError(badProxy) && badProxy.code).toBe('config_invalid');
  });

  it('refuses an auth option without issuers instead of quietly turning sign-in off', async () => {
    const error = await createByok({ database: { memory: true }, auth: { issuers: [], baseUrl: 'http://127.0.0.1:1', allowedOrigins: ['http://127.0.0.1:2'] } }).catch((e: unknown) => e);
    expect(isByokError(error) && error.code).toBe('config_invalid');
  });
});

for (const kind of selectTestBackends(['postgres'] as const)) {
  describe(`database connection options on ${kind}`, () => {
    let tdb: TestDatabase;
    afterAll(async () => {
      await tdb?.drop();
    });

    it('database.poolSize bounds the connections byok opens', async () => {
      tdb = await createTestDatabase(kind);
      const byok = await createByok({ database: { ...(tdb.config as { postgres: string }), poolSize: 2 } });
      const admin = new pg.Client({ connectionString: (tdb.config as { postgres: string }).postgres });
      await admin.connect();
      try {
        await Promise.all(Array.from({ length: 12 }, (_, i) => byok.users.findOrCreate({ issuer: 'https://i.test', subject: `pool-${i}` })));
        const { rows } = await admin.query<{ n: string }>('select count(*) as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
        expect(Number(rows[0]!.n)).toBeGreaterThan(0);
        expect(Number(rows[0]!.n)).toBeLessThanOrEqual(2);
      } finally {
        await admin.end();
        await byok.close();
      }
    });
  });
}

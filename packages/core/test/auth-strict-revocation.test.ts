import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Byok } from '@byok/core';
import { selectTestBackends, type DevIssuer } from '@byok/testing';
import { devIssuer, makeByok, openDatabase, startIssuer, type Backend, type Database } from './auth-flow-harness';

// Strict mode on three instances sharing one database (PostgreSQL unless BYOK_TEST_DATABASES
// leaves it out): A and B share Redis, C does not.
const shared = selectTestBackends<Backend>(['postgres', 'mysql', 'sqlite'])[0]!;

describe(`strict mode: a revocation reaches every instance through Redis (${shared})`, () => {
  let issuer: DevIssuer;
  let database: Database;
  const clients: Redis[] = [];
  let a: Byok;
  let b: Byok;
  let c: Byok;

  beforeAll(async () => {
    issuer = await startIssuer();
    database = await openDatabase(shared);
    const db = await database.options();
    const channelPrefix = `byok:test:${randomUUID()}:`;
    const redis = () => {
      const client = new Redis({ host: '127.0.0.1', port: 6379, keyPrefix: channelPrefix, lazyConnect: false });
      clients.push(client);
      return client;
    };
    const strict = { strict: { cacheMs: 60_000 } };
    a = await makeByok(db, [devIssuer(issuer)], strict, { redis: redis() });
    b = await makeByok(db, [devIssuer(issuer)], strict, { redis: redis(), migrate: false });
    c = await makeByok(db, [devIssuer(issuer)], strict, { migrate: false });
  });
  afterAll(async () => {
    for (const byok of [a, b, c]) await byok?.close();
    for (const client of clients) client.disconnect();
    await issuer.close();
    await database.close();
  });

  const bearer = (token: string) => ({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${token}` }, remoteAddress: '127.0.0.1' });

  it('drops the cached session on the other instance at once, instead of after the cache expires', async () => {
    const { user } = await a.users.findOrCreate({ issuer: issuer.issuer, subject: 'strict-user' });
    const tokens = await a.auth!.createSession(user.id);
    for (const byok of [a, b, c]) expect((await byok.auth!.authenticate(bearer(tokens.accessToken)))?.userId).toBe(user.id);

    await a.auth!.logoutAll(user.id);
    await new Promise((r) => setTimeout(r, 200)); // pub/sub delivery

    await expect(a.auth!.authenticate(bearer(tokens.accessToken))).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(b.auth!.authenticate(bearer(tokens.accessToken))).rejects.toMatchObject({ code: 'unauthenticated' });
    // C has no bus: its cached answer stands until its 60 s cache expires — what the bus is for
    expect((await c.auth!.authenticate(bearer(tokens.accessToken)))?.userId).toBe(user.id);
  });
});

import { describe, expect, it } from 'vitest';
import { createTestDatabase, selectTestBackends } from '@byok/testing';
import { createByok, localKms, type Byok } from '@byok/core';

// zod runs length checks on a value of the wrong type too: a body shaped to break them
// (`{ length: { toString: false } }`) made safeParse throw, and the request answered 500.
it('answers a value shaped to break zod’s checks with a typed 400, on JSON and on stream operations', async () => {
  const byok: Byok = await createByok({
    database: { memory: true },
    kms: localKms({ keys: `1:${Buffer.alloc(32, 3).toString('base64')}` }),
    http: { authenticate: async (): Promise<{ userId: string; via: 'host' }> => ({ userId: (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'zod' })).user.id, via: 'host' }) },
  });
  try {
    const hostile = { length: { toString: false } };
    for (const [method, url, body] of [
      ['PATCH', '/me/preferences', { language: hostile }],
      ['POST', '/chat/sessions', { provider: 'gemini', model: 'm', title: hostile }],
      ['PATCH', '/me', { name: hostile }],
    ] as const) {
      const res = await byok.http.handle({ method, url, headers: { 'content-type': 'application/json' }, body, remoteAddress: '127.0.0.1' });
      expect([res.status, (res.body as { error: { code: string } }).error.code], `${method} ${url}`).toEqual([400, 'validation_failed']);
    }
  } finally {
    await byok.close();
  }
});

// PostgreSQL text cannot hold U+0000: an id with a NUL in it was a 500 from the driver.
describe.each(selectTestBackends(['sqlite', 'postgres', 'mysql'] as const))('a NUL in an id on %s', (kind) => {
  it('is a typed 4xx on every id route, never a 500', async () => {
    const db = await createTestDatabase(kind);
    const byok: Byok = await createByok({
      database: db.config,
      kms: localKms({ keys: `1:${Buffer.alloc(32, 3).toString('base64')}` }),
      http: { authenticate: async (): Promise<{ userId: string; via: 'host' }> => ({ userId: (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'nul' })).user.id, via: 'host' }) },
    });
    try {
      for (const [method, url] of [
        ['GET', '/chat/sessions/%00'],
        ['GET', '/chat/sessions/a%00b/messages'],
        ['DELETE', '/chat/sessions/%00'],
        ['GET', '/keys/gem%00ini'],
      ] as const) {
        const res = await byok.http.handle({ method, url, headers: {}, remoteAddress: '127.0.0.1' });
        expect(res.status, `${method} ${url}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${method} ${url}`).toBeLessThan(500);
      }
    } finally {
      await byok.close();
      await db.drop();
    }
  });
});

import { expect, it } from 'vitest';
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

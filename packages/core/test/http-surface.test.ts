import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByok, type Byok } from '@byok/core';
import { type ByokRequest } from '@byok/core/http';

const CANARY = 'AIzaSyCANARY0000000000000000000000000000';

function request(method: string, url: string, init: Partial<ByokRequest> = {}): ByokRequest {
  return { method, url, headers: {}, remoteAddress: '127.0.0.1', ...init };
}

describe('HTTP operation registry', () => {
  let byok: Byok;
  let userId: string;
  const as = (id: string) => ({ 'x-test-user': id });

  beforeAll(async () => {
    byok = await createByok({
      database: { memory: true },
      http: {
        authenticate: async (req) => {
          const id = req.headers['x-test-user'];
          return id ? { userId: id, via: 'host' } : null;
        },
      },
    });
    ({ user: { id: userId } } = await byok.users.findOrCreate({ issuer: 'https://issuer.test', subject: 's1', email: 'a@example.com', emailVerified: true, name: 'Ada' }));
  });
  afterAll(() => byok.close());

  it('answers an operation with its validated output', async () => {
    const res = await byok.http.handle(request('GET', '/me', { headers: as(userId) }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: userId, email: 'a@example.com', name: 'Ada' });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('refuses a call without credentials with a typed 401', async () => {
    const res = await byok.http.handle(request('GET', '/me'));
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: 'unauthenticated', message: expect.any(String) } });
  });

  it('scopes every call to the caller: a second real user never reads or changes the first one’s rows', async () => {
    const { user: bob } = await byok.users.findOrCreate({ issuer: 'https://issuer.test', subject: 's2', email: 'b@example.com', emailVerified: true, name: 'Bob' });
    const adaBefore = (await byok.http.handle(request('GET', '/me', { headers: as(userId) }))).body;
    const adaPrefs = (await byok.http.handle(request('GET', '/me/preferences', { headers: as(userId) }))).body;

    expect((await byok.http.handle(request('GET', '/me', { headers: as(bob.id) }))).body).toMatchObject({ id: bob.id, name: 'Bob', email: 'b@example.com' });
    expect((await byok.http.handle(request('PATCH', '/me', { headers: as(bob.id), body: { name: 'Bob B' } }))).status).toBe(200);
    expect((await byok.http.handle(request('PATCH', '/me/preferences', { headers: as(bob.id), body: { theme: 'dark' } }))).status).toBe(200);
    expect((await byok.http.handle(request('DELETE', '/me', { headers: as(bob.id) }))).status).toBeLessThan(300);

    expect((await byok.http.handle(request('GET', '/me', { headers: as(userId) }))).body).toEqual(adaBefore);
    expect((await byok.http.handle(request('GET', '/me/preferences', { headers: as(userId) }))).body).toEqual(adaPrefs);
    // a caller whose user is gone is not found, never an error that tells more
    const gone = await byok.http.handle(request('GET', '/me', { headers: as(bob.id) }));
    expect(gone.status).toBe(404);
    expect((gone.body as any).error.code).toBe('not_found');
  });

  it('gives 404 for unknown paths and 405 with Allow for a wrong method', async () => {
    expect((await byok.http.handle(request('GET', '/nope'))).status).toBe(404);
    const res = await byok.http.handle(request('DELETE', '/me/preferences', { headers: as(userId) }));
    expect(res.status).toBe(405);
    expect((res.body as any).error.code).toBe('method_not_allowed');
    expect(res.headers.allow).toContain('GET');
  });

  it('rejects invalid input with validation_failed, naming fields but never echoing values, and changes nothing', async () => {
    const before = await byok.users.getPreferences(userId);
    const res = await byok.http.handle(
      request('PATCH', '/me/preferences', { headers: as(userId), body: { theme: CANARY, timezone: 'Mars/Olympus' } }),
    );
    expect(res.status).toBe(400);
    const body = res.body as { error: { code: string; message: string } };
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.message).toContain('theme');
    expect(JSON.stringify(res)).not.toContain(CANARY);
    expect(JSON.stringify(res)).not.toContain('Olympus');
    expect(await byok.users.getPreferences(userId)).toEqual(before);
  });

  it('refuses unknown fields on strict inputs', async () => {
    const res = await byok.http.handle(request('PATCH', '/me/preferences', { headers: as(userId), body: { theme: 'dark', admin: true } }));
    expect(res.status).toBe(400);
  });

  it('reports malformed JSON as bad_request without echoing the body', async () => {
    const { INVALID_JSON } = await import('../src/http/http-handler');
    const res = await byok.http.handle(request('PATCH', '/me/preferences', { headers: as(userId), body: { [INVALID_JSON]: true } }));
    expect(res.status).toBe(400);
    expect((res.body as any).error.code).toBe('bad_request');
  });

  it('applies a valid update, canonicalising the language tag', async () => {
    const res = await byok.http.handle(request('PATCH', '/me/preferences', { headers: as(userId), body: { theme: 'dark', language: 'pt-br', timezone: 'Europe/Lisbon' } }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ theme: 'dark', language: 'pt-BR', timezone: 'Europe/Lisbon' });
  });

  it('pages the audit trail with one pagination shape and rejects a forged cursor', async () => {
    for (let i = 0; i < 5; i++) {
      await byok.users.updatePreferences(userId, { theme: i % 2 ? 'light' : 'dark' });
    }
    const first = await byok.http.handle(request('GET', '/me/audit?limit=2&action=preferences.updated', { headers: as(userId) }));
    expect(first.status).toBe(200);
    const page = first.body as { items: Array<{ seq: number; action: string }>; nextCursor: string | null };
    expect(page.items).toHaveLength(2);
    expect(page.items.every((i) => i.action === 'preferences.updated')).toBe(true);
    expect(page.nextCursor).toEqual(expect.any(String));
    const second = await byok.http.handle(request('GET', `/me/audit?limit=2&action=preferences.updated&cursor=${page.nextCursor}`, { headers: as(userId) }));
    const page2 = second.body as typeof page;
    expect(page2.items[0]!.seq).toBeLessThan(page.items[1]!.seq);
    const bad = await byok.http.handle(request('GET', '/me/audit?cursor=bm9wZQ', { headers: as(userId) }));
    expect(bad.status).toBe(400);
    expect((bad.body as any).error.code).toBe('invalid_cursor');
    const tooMany = await byok.http.handle(request('GET', '/me/audit?limit=101', { headers: as(userId) }));
    expect((tooMany.body as any).error.code).toBe('validation_failed');
  });

  it('publishes an OpenAPI document generated from the registry', async () => {
    const res = await byok.http.handle(request('GET', '/openapi.json'));
    expect(res.status).toBe(200);
    const doc = res.body as { openapi: string; paths: Record<string, Record<string, { operationId: string }>> };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/me']!.get!.operationId).toBe('me.get');
    expect(doc.paths['/me/preferences']!.patch!.operationId).toBe('me.preferences.update');
    expect(Object.keys(doc.paths['/me/audit']!.get!)).toContain('parameters');
  });

  it('hides internal errors behind a generic 500 and logs them sanitised', async () => {
    const lines: unknown[] = [];
    const local = await createByok({
      database: { memory: true },
      logger: { info() {}, warn() {}, error: (obj) => lines.push(obj) },
      http: { authenticate: async () => ({ userId: 'u', via: 'host' }) },
    });
    const { defineOperation } = await import('@byok/core/http');
    const { z } = await import('zod');
    local.http.add(
      defineOperation({
        kind: 'empty',
        name: 'boom',
        summary: 'fails',
        auth: 'none',
        input: z.object({}),
        http: { method: 'POST', path: '/boom' },
        handler: async () => {
          throw new Error(`upstream said key=${CANARY}`);
        },
      }),
    );
    const res = await local.http.handle(request('POST', '/boom'));
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: 'internal', message: 'Internal error' } });
    expect(lines).toHaveLength(1);
    expect(JSON.stringify(lines)).not.toContain(CANARY);
    await local.close();
  });
});

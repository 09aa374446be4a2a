import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByokClient, isByokClientError, type ByokClient, type ByokClientError } from '../src/index';
import { startClientHarness, type ClientHarness } from './client-harness';

const SIX_MINUTES = 6 * 60_000;

/** Five calls at once, each needing the session. */
function fiveCalls(client: ByokClient) {
  return [
    client.call('me.get'),
    client.call('keys.list'),
    client.call('me.preferences.get'),
    client.call('auth.sessions.list'),
    client.call('me.audit.list', { limit: 1 }),
  ] as const;
}

async function failures(calls: readonly Promise<unknown>[]): Promise<ByokClientError[]> {
  const settled = await Promise.allSettled(calls);
  return settled.map((result) => {
    if (result.status === 'fulfilled') throw new Error('expected every call to fail');
    if (!isByokClientError(result.reason)) throw result.reason;
    return result.reason;
  });
}

describe('refresh on 401, once, shared by parallel calls', () => {
  let h: ClientHarness;
  beforeAll(async () => {
    h = await startClientHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('cookie mode: five calls with an expired access cookie make one refresh and all succeed', async () => {
    const { client, jar } = await h.browser('alice');
    const before = h.refreshes();
    const oldAccess = jar.get(new URL('/', h.base), 'byok_at');
    h.advance(SIX_MINUTES);
    const seenBefore = h.seen.length;
    const [me] = await Promise.all(fiveCalls(client));
    expect(me.email).toBe('alice@example.test');
    expect(h.refreshes() - before).toBe(1);
    // Five refused, one refresh, five again.
    expect(h.seen.length - seenBefore).toBe(11);
    expect(jar.get(new URL('/', h.base), 'byok_at')).not.toBe(oldAccess);
    // The new session works without another refresh.
    await client.call('keys.list');
    expect(h.refreshes() - before).toBe(1);
  });

  it('bearer mode: five calls with an expired access token make one refresh; the store holds the rotated tokens', async () => {
    const { client, tokens } = await h.apiClient('alice');
    const first = await tokens.get();
    const before = h.refreshes();
    h.advance(SIX_MINUTES);
    const results = await Promise.all(fiveCalls(client));
    expect(results[0].email).toBe('alice@example.test');
    expect(h.refreshes() - before).toBe(1);
    const rotated = await tokens.get();
    expect(rotated?.refreshToken).toBeTruthy();
    expect(rotated?.refreshToken).not.toBe(first?.refreshToken);
    expect(rotated?.accessToken).not.toBe(first?.accessToken);
    const refresh = h.seen.filter((r) => r.path === '/auth/refresh').at(-1)!;
    expect(refresh.headers.cookie).toBeUndefined();
    const later = h.seen.at(-1)!;
    expect(later.headers.authorization).toBe(`Bearer ${rotated!.accessToken}`);
  });

  it('bearer mode: a refresh the server refuses surfaces unauthenticated to every waiting call, ends the session once and clears the store', async () => {
    const ended: ByokClientError[] = [];
    const { client, tokens } = await h.apiClient('bob', { onSessionEnded: (error) => ended.push(error) });
    const me = await client.call('me.get');
    await h.byok.auth!.logoutAll(me.id, { ip: null, userAgent: null });
    const before = h.refreshes();
    h.advance(SIX_MINUTES);
    const errors = await failures(fiveCalls(client));
    expect(errors.map((e) => [e.code, e.status])).toEqual(Array.from({ length: 5 }, () => ['unauthenticated', 401]));
    expect(h.refreshes() - before).toBe(1);
    expect(ended).toHaveLength(1);
    expect(await tokens.get()).toBeNull();
    // Without tokens there is nothing to refresh: no further refresh request.
    const again = await failures([client.call('me.get')]);
    expect(again[0]!.code).toBe('unauthenticated');
    expect(h.refreshes() - before).toBe(1);
    expect(ended).toHaveLength(1);
    await expect(client.refresh()).rejects.toMatchObject({ code: 'unauthenticated', status: 401 });
    expect(h.refreshes() - before).toBe(1);
  });

  it('cookie mode: a refresh token revoked elsewhere surfaces unauthenticated', async () => {
    const { client } = await h.browser('bob');
    const me = await client.call('me.get');
    await h.byok.auth!.logoutAll(me.id, { ip: null, userAgent: null });
    h.advance(SIX_MINUTES);
    const [error] = await failures([client.call('keys.list')]);
    expect([error!.code, error!.status]).toEqual(['unauthenticated', 401]);
    expect(error!.details?.refresh).toMatchObject({ status: 401 });
  });

  it('a 401 that comes back after the refresh finished is retried without a second refresh', async () => {
    const { fetch: browserFetch } = await h.browser('alice');
    let meDone: () => void = () => undefined;
    const meFinished = new Promise<void>((resolve) => (meDone = resolve));
    let held = false;
    // The keys call's 401 is handed over only after the profile call, refresh included, has finished.
    const slowFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const response = await browserFetch(input, init);
      if (!held && String(input).endsWith('/keys') && response.status === 401) {
        held = true;
        await meFinished;
      }
      return response;
    }) as typeof fetch;
    const client = createByokClient({ baseUrl: h.base, fetch: slowFetch });
    const before = h.refreshes();
    h.advance(SIX_MINUTES);
    const keys = client.call('keys.list');
    await client.call('me.get');
    meDone();
    expect((await keys).items).toBeInstanceOf(Array);
    expect(held).toBe(true);
    expect(h.refreshes() - before).toBe(1);
  });

  it('refresh() on its own rotates the cookies once', async () => {
    const { client, jar } = await h.browser('alice');
    const before = h.refreshes();
    const old = jar.get(new URL('/', h.base), 'byok_rt');
    await Promise.all([client.refresh(), client.refresh(), client.refresh()]);
    expect(h.refreshes() - before).toBe(1);
    expect(jar.get(new URL('/', h.base), 'byok_rt')).not.toBe(old);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BYOK_ROUTES, ByokClientError, createByokClient, isByokClientError } from '../src/index';
import { GEMINI_KEY, startClientHarness, type ClientHarness } from './client-harness';

async function failure(work: Promise<unknown>): Promise<ByokClientError> {
  try {
    await work;
  } catch (error) {
    if (isByokClientError(error)) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

describe('typed calls over real HTTP', () => {
  let h: ClientHarness;
  beforeAll(async () => {
    h = await startClientHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('has a route for every operation the server serves, with the same method and path', () => {
    const served = Object.fromEntries(
      h.byok.http
        .operations()
        .map((op) => [op.name, { method: op.http.method, path: op.http.path, ...(op.kind === 'raw' ? { produces: op.produces } : {}) }]),
    );
    expect(BYOK_ROUTES).toEqual(served);
  });

  it('signs in with cookies and calls keys, preferences and the profile with typed answers', async () => {
    const { client } = await h.browser('alice');
    const me = await client.call('me.get');
    expect(me.email).toBe('alice@example.test');

    const { providers } = await client.call('providers.list');
    expect(providers).toContain('gemini');
    const status = await client.call('keys.set', { provider: 'gemini', apiKey: GEMINI_KEY });
    expect(status).toMatchObject({ provider: 'gemini', last4: GEMINI_KEY.slice(-4), status: 'valid' });
    expect(JSON.stringify(status)).not.toContain(GEMINI_KEY);
    expect((await client.call('keys.list')).items.map((k) => k.provider)).toEqual(['gemini']);
    expect(await client.call('keys.get', { provider: 'gemini' })).toEqual(status);
    const tested = await client.call('keys.test', { provider: 'gemini' });
    expect(tested).toBeTypeOf('object');

    const prefs = await client.call('me.preferences.update', { theme: 'dark' });
    expect(prefs.theme).toBe('dark');
    expect((await client.call('me.preferences.get')).theme).toBe('dark');

    const audit = await client.call('me.audit.list', { limit: 5 });
    expect(audit.items.length).toBeGreaterThan(0);
    expect(audit.items.length).toBeLessThanOrEqual(5);

    await client.call('keys.remove', { provider: 'gemini' });
    const gone = await failure(client.call('keys.get', { provider: 'gemini' }));
    expect(gone).toBeInstanceOf(ByokClientError);
    expect([gone.code, gone.status]).toEqual(['key_missing', 412]);
  });

  it('turns the server’s error body into a ByokClientError with code, status and message', async () => {
    const { client } = await h.browser('alice');
    const invalid = await failure(client.call('keys.set', { provider: 'gemini', apiKey: 'AIza-not-a-key-the-api-knows' }));
    expect(invalid.code).toBe('key_invalid');
    expect(invalid.status).toBe(422);
    expect(invalid.message).toBeTruthy();
    expect(invalid.message).not.toContain('AIza-not-a-key-the-api-knows');

    const wrongField = await failure(client.call('me.preferences.update', { theme: 'purple' as 'dark' }));
    expect([wrongField.code, wrongField.status]).toEqual(['validation_failed', 400]);
    expect(wrongField.details?.fields).toEqual(['theme']);

    const signedOut = createByokClient({ baseUrl: h.base });
    const anonymous = await failure(signedOut.call('me.get'));
    expect([anonymous.code, anonymous.status]).toEqual(['unauthenticated', 401]);
  });

  it('reports a server that cannot be reached as network_error', async () => {
    const nowhere = createByokClient({ baseUrl: 'http://127.0.0.1:9' });
    const error = await failure(nowhere.call('providers.list'));
    expect([error.code, error.status]).toEqual(['network_error', 0]);
  });

  it('gives up a call when its AbortSignal aborts, with the AbortError fetch throws', async () => {
    const { client } = await h.browser('alice');
    const controller = new AbortController();
    h.gemini.configure({ latencyMs: 2_000 });
    try {
      const pending = client.call('keys.set', { provider: 'gemini', apiKey: GEMINI_KEY }, { signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    } finally {
      h.gemini.reset();
    }
  });

  it('signs out: the session’s cookies no longer work', async () => {
    const { client } = await h.browser('bob');
    expect((await client.call('me.get')).email).toBe('bob@example.test');
    await client.signOut();
    const after = await failure(client.call('me.get'));
    expect(after.code).toBe('unauthenticated');
  });
});

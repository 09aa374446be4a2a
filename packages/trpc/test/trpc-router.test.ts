import { createTRPCClient, httpBatchLink, httpLink, TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ByokRouter } from '@byok/trpc';
import { CANARY, OTHER_KEY, startTrpcHarness, type TrpcHarness } from './trpc-harness';

type Client = ReturnType<typeof createTRPCClient<ByokRouter>>;

describe('@byok/trpc over real HTTP with @trpc/client', () => {
  let h: TrpcHarness;
  /** How many HTTP requests the clients made to the tRPC endpoint. */
  let httpRequests = 0;

  beforeAll(async () => {
    h = await startTrpcHarness({
      // Tight per user (the batch test counts against it), loose per IP: every test calls from 127.0.0.1.
      rateLimits: { key_test: { perUser: 10, perIp: 1000 }, key_set: { perUser: 100, perIp: 1000 } },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  const countingFetch: typeof fetch = (input, init) => {
    httpRequests++;
    return fetch(input, init);
  };

  /** A user with a byok session, and a client that sends its access token as a bearer token. */
  async function bearerClient(subject: string, link: 'batch' | 'single' = 'batch'): Promise<{ client: Client; userId: string }> {
    const { user } = await h.byok.users.findOrCreate({ issuer: 'https://trpc.test', subject });
    const tokens = await h.byok.auth.createSession(user.id);
    const headers = { authorization: `Bearer ${tokens.accessToken}` };
    const client = createTRPCClient<ByokRouter>({
      links: [
        link === 'batch'
          ? httpBatchLink({ url: h.trpcUrl, headers, fetch: countingFetch, maxItems: 100 })
          : httpLink({ url: h.trpcUrl, headers, fetch: countingFetch }),
      ],
    });
    return { client, userId: user.id };
  }

  function cookieClient(cookie: string, origin: string | null): Client {
    return createTRPCClient<ByokRouter>({
      links: [httpLink({ url: h.trpcUrl, headers: { cookie, ...(origin !== null ? { origin } : {}) }, fetch: countingFetch })],
    });
  }

  async function refusal(promise: Promise<unknown>): Promise<TRPCClientError<ByokRouter>> {
    const error = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TRPCClientError);
    return error as TRPCClientError<ByokRouter>;
  }

  it('runs the original backend’s four user.*ApiKey procedures against the Gemini stand-in, never returning the key', async () => {
    const { client } = await bearerClient('keys');

    expect(await client.user.getApiKeyStatus.query()).toEqual({ hasKey: false, provider: 'gemini' });

    const set = await client.user.setApiKey.mutate({ apiKey: CANARY });
    expect(set).toMatchObject({ provider: 'gemini', status: 'valid', last4: CANARY.slice(-4) });
    // The stand-in really was asked, with the key in Gemini's header.
    expect(h.gemini.requests.some((r) => r.key === CANARY)).toBe(true);

    const status = await client.user.getApiKeyStatus.query({ provider: 'gemini' });
    expect(status).toMatchObject({ hasKey: true, provider: 'gemini', status: 'valid', last4: CANARY.slice(-4) });

    expect(await client.user.testApiKey.mutate()).toEqual({ provider: 'gemini', status: 'valid', reason: null, stored: true });
    expect(await client.user.testApiKey.mutate({ apiKey: 'AIzaSy-not-a-key-the-api-knows-0000000' })).toMatchObject({ status: 'invalid', stored: false });

    // A key the provider rejects is refused with byok's code and nothing is stored.
    const rejected = await refusal(client.user.setApiKey.mutate({ apiKey: 'AIzaSy-rejected-by-the-provider-000000' }));
    expect(rejected.data?.byokCode).toBe('key_invalid');
    expect(rejected.data?.code).toBe('UNPROCESSABLE_CONTENT');
    expect(await client.user.getApiKeyStatus.query()).toMatchObject({ hasKey: true, last4: CANARY.slice(-4) });

    await client.user.removeApiKey.mutate();
    expect(await client.user.getApiKeyStatus.query()).toEqual({ hasKey: false, provider: 'gemini' });
    const again = await refusal(client.user.removeApiKey.mutate({ provider: 'gemini' }));
    expect(again.data?.byokCode).toBe('key_missing');

    // The key never left: not in a response (headers included), not in a log line.
    expect(h.bodies.length).toBeGreaterThan(5);
    for (const body of h.bodies) expect(body).not.toContain(CANARY);
    for (const line of h.logs) expect(line).not.toContain(CANARY);
  });

  it('serves the generated procedures too: preferences as a query and a mutation', async () => {
    const { client } = await bearerClient('prefs');
    const updated = await client.me.preferences.update.mutate({ theme: 'dark' });
    expect(updated.theme).toBe('dark');
    expect((await client.me.preferences.get.query()).theme).toBe('dark');
    expect((await client.keys.list.query()).items).toEqual([]);
  });

  it('puts byok’s code into data.byokCode: unauthenticated, validation_failed, not_found for another user’s real row', async () => {
    const anonymous = createTRPCClient<ByokRouter>({ links: [httpLink({ url: h.trpcUrl })] });
    const unauthenticated = await refusal(anonymous.me.preferences.get.query());
    expect(unauthenticated.data).toMatchObject({ byokCode: 'unauthenticated', code: 'UNAUTHORIZED', httpStatus: 401 });

    const { client } = await bearerClient('errors');
    const invalid = await refusal(client.user.setApiKey.mutate({ apiKey: 42 as unknown as string }));
    expect(invalid.data).toMatchObject({ byokCode: 'validation_failed', code: 'BAD_REQUEST', byokDetails: { fields: ['apiKey'] } });
    const leaked = await refusal(client.user.setApiKey.mutate({ apiKey: CANARY, extra: CANARY } as never));
    expect(leaked.data?.byokCode).toBe('validation_failed');
    expect(leaked.message).not.toContain(CANARY);
    expect(JSON.stringify(leaked.shape)).not.toContain(CANARY);

    // Another user's real row (a signed-in session of bob) is "not found", and stays.
    const { user: bob } = await h.byok.users.findOrCreate({ issuer: 'https://trpc.test', subject: 'bob-errors' });
    await h.byok.auth.createSession(bob.id);
    const [bobSession] = await h.byok.auth.listSessions(bob.id);
    expect(bobSession).toBeDefined();
    const notFound = await refusal(client.auth.sessions.revoke.mutate({ id: bobSession!.id }));
    expect(notFound.data).toMatchObject({ byokCode: 'not_found', code: 'NOT_FOUND', httpStatus: 404 });
    expect((await h.byok.auth.listSessions(bob.id)).map((s) => s.id)).toContain(bobSession!.id);

    // Errors tRPC raises itself carry a byok code too, and no stack.
    const noSuch = await refusal((client as unknown as { nope: { query: () => Promise<unknown> } }).nope.query());
    expect(noSuch.data).toMatchObject({ byokCode: 'not_found', code: 'NOT_FOUND' });
    expect(noSuch.data).not.toHaveProperty('stack');
  });

  it('counts every call of one 50-call batch against the rate limit: 10 key tests pass, 40 are rate_limited', async () => {
    const { client } = await bearerClient('batch');
    await client.user.setApiKey.mutate({ apiKey: OTHER_KEY });
    const before = httpRequests;
    const checksBefore = h.gemini.requests.filter((r) => r.key === OTHER_KEY).length;

    const results = await Promise.allSettled(Array.from({ length: 50 }, () => client.user.testApiKey.mutate({})));

    expect(httpRequests - before).toBe(1);
    const passed = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(passed).toHaveLength(10);
    expect(refused).toHaveLength(40);
    for (const r of refused) {
      const error = r.reason as TRPCClientError<ByokRouter>;
      expect(error.data).toMatchObject({ byokCode: 'rate_limited', code: 'TOO_MANY_REQUESTS', httpStatus: 429 });
      expect(error.data?.byokDetails?.retryAfterMs).toBeGreaterThan(0);
    }
    // Only the counted calls reached the provider.
    expect(h.gemini.requests.filter((r) => r.key === OTHER_KEY).length - checksBefore).toBe(10);
  });

  it('refuses a cookie-authenticated mutation from a foreign Origin (CSRF), and takes it from the app’s own', async () => {
    const cookie = await h.signIn('alice');
    expect(cookie).toContain('byok_at=');

    const foreign = await refusal(cookieClient(cookie, 'http://evil.example').me.preferences.update.mutate({ theme: 'light' }));
    expect(foreign.data).toMatchObject({ byokCode: 'csrf_rejected', code: 'FORBIDDEN', httpStatus: 403 });
    const sandboxed = await refusal(cookieClient(cookie, 'null').me.preferences.update.mutate({ theme: 'light' }));
    expect(sandboxed.data?.byokCode).toBe('csrf_rejected');
    const missing = await refusal(cookieClient(cookie, null).user.setApiKey.mutate({ apiKey: CANARY }));
    expect(missing.data?.byokCode).toBe('csrf_rejected');
    expect(missing.message).not.toContain(CANARY);

    const own = cookieClient(cookie, h.origin);
    expect((await own.me.preferences.update.mutate({ theme: 'light' })).theme).toBe('light');
    // A query reads nothing it could change: the cookie is enough.
    expect((await cookieClient(cookie, 'http://evil.example').me.preferences.get.query()).theme).toBe('light');
  });

  it('keeps the cookie-setting session operations and HTTP documents off the tRPC router', async () => {
    for (const path of ['auth.refresh', 'auth.logout', 'auth.logout_all', 'auth.link', 'auth.login', 'auth.callback', 'auth.jwks', 'openapi']) {
      const res = await fetch(`${h.trpcUrl}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(res.status).toBe(404);
      const body = (await res.json()) as { error: { data: { byokCode: string } } };
      expect(body.error.data.byokCode).toBe('not_found');
    }
    // The JWKS and the sign-in redirects are served by core's HTTP handler beside tRPC.
    const jwks = await fetch(`${h.origin}/api/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(((await jwks.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
  });
});

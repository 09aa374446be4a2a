import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTRPCClient, httpBatchLink, httpBatchStreamLink, httpSubscriptionLink, splitLink, TRPCClientError } from '@trpc/client';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createByok, localKms, oidc, type AuthService, type Byok, type UiMessageChunk } from '@byok/core';
import { handleNodeRequest } from '@byok/core/http';
import { gemini } from '@byok/gemini';
import { SCENARIO_APP_ORIGIN, SCENARIO_BAD_GEMINI_KEY, SCENARIO_GEMINI_KEY, ScenarioBrowser } from '@byok/testing/http';
import { startGeminiStandIn, type LlmStandIn } from '@byok/testing/llm';
import { startDevIssuer, type DevIssuer } from '@byok/testing/oidc';
import { createByokContext, createByokRouter, type ByokChatStreamEvent, type ByokRouter } from '@byok/trpc';

/**
 * The HTTP scenarios' behaviour through a real @trpc/client against @byok/trpc: the same
 * sign-in (over /api), the same statuses as `data.httpStatus` and the same codes as
 * `data.byokCode`, the same CSRF refusals, and a 50-call batch whose every call counts
 * against the per-user key-test limit, and a chat reply streamed, stopped and resumed.
 */

type Client = ReturnType<typeof createTRPCClient<ByokRouter>>;

const KEY_TEST_PER_USER = 10;
const REPLY = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');

let server: ReturnType<typeof createServer>;
let origin: string;
let byok: Byok<AuthService>;
let standIn: LlmStandIn;
let issuer: DevIssuer;
let users = 0;
/** The tRPC HTTP requests made, one entry per request (a batch is one). */
const requests: Array<{ method: string; url: string }> = [];

beforeAll(async () => {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  server = createServer((req, res) => {
    if (handler) return handler(req, res);
    res.statusCode = 503;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  standIn = await startGeminiStandIn({ keys: [SCENARIO_GEMINI_KEY] });
  issuer = await startDevIssuer({ clients: [{ client_id: 'byok-trpc', client_secret: 'byok-trpc-secret', redirect_uris: [`${origin}/api/auth/callback/dev`] }] });
  byok = await createByok({
    database: { memory: true },
    kms: localKms({ keys: `1:${randomBytes(32).toString('base64')}` }),
    providers: [gemini({ baseUrl: standIn.url })],
    rateLimits: {
      login_start: { perIp: 1000 },
      login_callback: { perIp: 1000 },
      key_set: { perIp: 1000, perUser: 1000 },
      key_test: { perIp: 1000, perUser: KEY_TEST_PER_USER },
      chat_send: { perIp: 1000, perUser: 1000 },
    },
    auth: {
      issuers: [oidc({ id: 'dev', issuer: issuer.issuer, clientId: 'byok-trpc', clientSecret: 'byok-trpc-secret', development: true })],
      baseUrl: `${origin}/api`,
      allowedOrigins: [SCENARIO_APP_ORIGIN],
      cookieSecret: randomBytes(32).toString('hex'),
    },
  });
  const trpc = createHTTPHandler({ router: createByokRouter(byok), createContext: createByokContext, basePath: '/trpc/', maxBodySize: 1024 * 1024 });
  handler = (req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/trpc/')) {
      requests.push({ method: req.method ?? 'GET', url });
      return trpc(req, res);
    }
    if (url.startsWith('/api/')) return void handleNodeRequest(byok.http, req, res, { url: url.slice('/api'.length) });
    res.statusCode = 404;
    res.end();
  };
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await byok?.close();
  await Promise.allSettled([standIn?.close(), issuer?.close()]);
});
beforeEach(() => {
  standIn.reset();
  standIn.setReply(() => REPLY);
  standIn.configure({ chunks: 4, chunkDelayMs: 0 });
  requests.length = 0;
});

/** A browser signed in over /api as a new person of the development issuer. */
async function signedIn(): Promise<ScenarioBrowser> {
  const sub = `trpc-scenario-${++users}`;
  issuer.addUser({ sub, email: `${sub}@example.test`, email_verified: true, name: `tRPC ${users}` });
  const b = new ScenarioBrowser(`${origin}/api`, SCENARIO_APP_ORIGIN);
  await b.signIn('dev', sub);
  return b;
}

/** A tRPC client carrying the browser's cookies (or none) and an Origin. */
function clientOf(b: ScenarioBrowser | null, from: string | null = SCENARIO_APP_ORIGIN): Client {
  const headers = (): Record<string, string> => ({
    ...(b ? { cookie: b.jar.header(`${origin}/trpc/`) } : {}),
    ...(from !== null ? { origin: from } : {}),
  });
  return createTRPCClient<ByokRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({
          url: `${origin}/trpc`,
          EventSource,
          eventSourceOptions: { fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...headers() } }) },
        }),
        false: httpBatchStreamLink({ url: `${origin}/trpc`, headers }),
      }),
    ],
  });
}

/** The error a call failed with, as the client sees it. */
async function failure(call: Promise<unknown>): Promise<TRPCClientError<ByokRouter>> {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCClientError);
  return error as TRPCClientError<ByokRouter>;
}

async function expectRefused(call: Promise<unknown>, httpStatus: number, byokCode: string): Promise<void> {
  const error = await failure(call);
  expect({ httpStatus: error.data?.httpStatus, byokCode: error.data?.byokCode }).toEqual({ httpStatus, byokCode });
  expect(error.message).toEqual(expect.any(String));
}

const text = (events: ByokChatStreamEvent[]) =>
  events
    .map((e) => e.data)
    .filter((c): c is Extract<UiMessageChunk, { type: 'text-delta' }> => c.type === 'text-delta')
    .map((c) => c.delta)
    .join('');

function resume(client: Client, input: { sessionId: string; lastEventId?: string }): Promise<ByokChatStreamEvent[]> {
  return new Promise((resolve, reject) => {
    const events: ByokChatStreamEvent[] = [];
    const sub = client.chat.stream.resume.subscribe(input, {
      onData(event) {
        events.push(event);
        if (event.data.type === 'finish') {
          sub.unsubscribe();
          resolve(events);
        }
      },
      onComplete: () => resolve(events),
      onError: (error) => reject(error),
    });
  });
}

describe('byok scenarios through a tRPC client', () => {
  it('auth: me.get is UNAUTHORIZED/unauthenticated before sign-in and the profile after it; the session is listed', async () => {
    await expectRefused(clientOf(null).me.get.query(), 401, 'unauthenticated');
    const b = await signedIn();
    const client = clientOf(b);
    const me = await client.me.get.query();
    expect(me).toMatchObject({ id: expect.any(String), email: expect.stringMatching(/^trpc-scenario-\d+@example\.test$/) });
    // the same profile as over HTTP
    expect((await b.json('/me')).body).toEqual(JSON.parse(JSON.stringify(me)));
    const sessions = await client.auth.sessions.list.query();
    expect(sessions.items).toHaveLength(1);
    // a refresh over /api gives new cookies, which tRPC accepts
    expect((await b.json('/auth/refresh', { method: 'POST' })).status).toBe(200);
    expect((await clientOf(b).me.get.query()).id).toBe(me.id);
  });

  it('keys: set, test, status and remove through user.* and keys.*; a refused key is key_invalid (422)', async () => {
    const client = clientOf(await signedIn());
    expect(await client.user.getApiKeyStatus.query()).toEqual({ hasKey: false, provider: 'gemini' });
    await expectRefused(client.keys.get.query({ provider: 'gemini' }), 412, 'key_missing');
    expect(await client.user.testApiKey.mutate({ apiKey: SCENARIO_BAD_GEMINI_KEY })).toMatchObject({ status: 'invalid' });
    await expectRefused(client.user.setApiKey.mutate({ apiKey: SCENARIO_BAD_GEMINI_KEY }), 422, 'key_invalid');
    const set = await client.user.setApiKey.mutate({ apiKey: SCENARIO_GEMINI_KEY });
    expect(set).toMatchObject({ provider: 'gemini', last4: SCENARIO_GEMINI_KEY.slice(-4), status: 'valid' });
    expect(JSON.stringify(set)).not.toContain(SCENARIO_GEMINI_KEY);
    expect(await client.user.getApiKeyStatus.query()).toEqual({ hasKey: true, ...set });
    expect(await client.keys.get.query({ provider: 'gemini' })).toEqual(set);
    expect(await client.user.testApiKey.mutate()).toMatchObject({ status: 'valid' });
    await client.user.removeApiKey.mutate();
    expect(await client.user.getApiKeyStatus.query()).toEqual({ hasKey: false, provider: 'gemini' });
  });

  it('preferences: updated and validated as over HTTP', async () => {
    const client = clientOf(await signedIn());
    const updated = await client.me.preferences.update.mutate({ theme: 'dark', language: 'de-CH', timezone: 'Europe/Zurich' });
    expect(updated).toMatchObject({ theme: 'dark', language: 'de-CH', timezone: 'Europe/Zurich' });
    expect(await client.me.preferences.get.query()).toEqual(updated);
    await expectRefused(client.me.preferences.update.mutate({ timezone: 'Mars/Olympus_Mons' }), 400, 'validation_failed');
  });

  it('chat sessions: created, listed, renamed, deleted; another user’s is NOT_FOUND/not_found', async () => {
    const client = clientOf(await signedIn());
    const session = await client.chat.sessions.create.mutate({ provider: 'gemini', model: 'gemini-2.5-flash' });
    expect((await client.chat.sessions.list.query({})).items.map((s) => s.id)).toEqual([session.id]);
    expect(await client.chat.sessions.update.mutate({ sessionId: session.id, title: 'Scenario talk' })).toMatchObject({ id: session.id, title: 'Scenario talk' });
    const stranger = clientOf(await signedIn());
    await expectRefused(stranger.chat.sessions.get.query({ sessionId: session.id }), 404, 'not_found');
    await client.chat.sessions.delete.mutate({ sessionId: session.id });
    await expectRefused(client.chat.sessions.get.query({ sessionId: session.id }), 404, 'not_found');
    await expectRefused(client.chat.sessions.create.mutate({ provider: 'gemini', model: 'gemini-2.5-flash', colour: 'red' } as never), 400, 'validation_failed');
  });

  it('CSRF: a cookie-authenticated mutation from another site, Origin null, a sibling subdomain or no Origin is FORBIDDEN/csrf_rejected', async () => {
    const b = await signedIn();
    const sibling = SCENARIO_APP_ORIGIN.replace('://app.', '://other.');
    for (const from of ['https://evil.example', 'null', sibling, null]) {
      await expectRefused(clientOf(b, from).chat.sessions.create.mutate({ provider: 'gemini', model: 'gemini-2.5-flash' }), 403, 'csrf_rejected');
    }
    expect((await clientOf(b).chat.sessions.list.query({})).items).toEqual([]);
    expect(await clientOf(b).chat.sessions.create.mutate({ provider: 'gemini', model: 'gemini-2.5-flash' })).toMatchObject({ provider: 'gemini' });
  });

  it('rate limits: a batch of 50 key tests in one HTTP request counts every call: 10 pass, 40 are rate_limited, and the next call too', async () => {
    const b = await signedIn();
    const headers = { cookie: b.jar.header(`${origin}/trpc/`), origin: SCENARIO_APP_ORIGIN };
    const batching = createTRPCClient<ByokRouter>({ links: [httpBatchLink({ url: `${origin}/trpc`, headers, maxItems: 50 })] });
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => batching.user.testApiKey.mutate({ apiKey: SCENARIO_GEMINI_KEY })));
    expect(requests).toHaveLength(1);
    expect(requests[0]!.method).toBe('POST');
    const passed = results.filter((r) => r.status === 'fulfilled');
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as TRPCClientError<ByokRouter>] : []));
    expect(passed).toHaveLength(KEY_TEST_PER_USER);
    for (const p of passed) expect((p as PromiseFulfilledResult<{ status: string }>).value.status).toBe('valid');
    expect(refused).toHaveLength(50 - KEY_TEST_PER_USER);
    for (const error of refused) {
      expect(error.data).toMatchObject({ byokCode: 'rate_limited', httpStatus: 429, code: 'TOO_MANY_REQUESTS' });
      expect(error.data?.byokDetails).toMatchObject({ retryAfterMs: expect.any(Number) });
    }
    // only the calls let through reached the provider
    expect(standIn.requests.filter((r) => r.route === 'models')).toHaveLength(KEY_TEST_PER_USER);
    await expectRefused(clientOf(b).user.testApiKey.mutate({ apiKey: SCENARIO_GEMINI_KEY }), 429, 'rate_limited');
    // the same limit over HTTP
    const overHttp = await b.json('/keys/gemini/test', { method: 'POST', json: { apiKey: SCENARIO_GEMINI_KEY } });
    expect({ status: overHttp.status, code: overHttp.body.error.code }).toEqual({ status: 429, code: 'rate_limited' });
  });

  it('chat: a reply streamed from chat.messages.send, stopped with chat.stop, and another resumed from its last id', async () => {
    const b = await signedIn();
    const client = clientOf(b);
    await client.user.setApiKey.mutate({ apiKey: SCENARIO_GEMINI_KEY });
    const session = await client.chat.sessions.create.mutate({ provider: 'gemini', model: 'gemini-2.5-flash' });

    // streamed whole
    const whole: ByokChatStreamEvent[] = [];
    for await (const event of await client.chat.messages.send.mutate({ sessionId: session.id, text: 'Say it all' })) whole.push(event);
    expect(whole[0]!.data.type).toBe('start');
    expect(whole.at(-1)!.data.type).toBe('finish');
    expect(text(whole)).toBe(REPLY);
    for (const event of whole) expect(event.id).toMatch(/^[^:\s]+:\d+:\d+(?:\.\d+)?$/);

    // stopped
    standIn.configure({ chunks: 40, chunkDelayMs: 25 });
    const stopping: ByokChatStreamEvent[] = [];
    let stopped: Awaited<ReturnType<Client['chat']['stop']['mutate']>> | undefined;
    for await (const event of await client.chat.messages.send.mutate({ sessionId: session.id, text: 'Go on and on' })) {
      stopping.push(event);
      if (event.data.type === 'text-delta' && stopped === undefined && stopping.filter((e) => e.data.type === 'text-delta').length >= 3) {
        stopped = await client.chat.stop.mutate({ sessionId: session.id });
      }
    }
    expect(stopped).toMatchObject({ stopped: true, message: { status: 'incomplete', errorCode: 'cancelled' } });
    expect(text(stopping).length).toBeLessThan(REPLY.length);
    expect(REPLY.startsWith(stopped!.message!.text)).toBe(true);

    // dropped and resumed with lastEventId
    const abort = new AbortController();
    const first: ByokChatStreamEvent[] = [];
    try {
      for await (const event of await client.chat.messages.send.mutate({ sessionId: session.id, text: 'Once more' }, { signal: abort.signal })) {
        first.push(event);
        if (first.filter((e) => e.data.type === 'text-delta').length === 4) abort.abort();
      }
    } catch {
      expect(abort.signal.aborted).toBe(true);
    }
    const rest = await resume(client, { sessionId: session.id, lastEventId: first.at(-1)!.id });
    expect(rest[0]!.id).not.toBe(first.at(-1)!.id);
    expect(rest.at(-1)!.data.type).toBe('finish');
    expect(text(first) + text(rest)).toBe(REPLY);
    const stored = (await client.chat.messages.list.query({ sessionId: session.id })).items;
    expect(stored.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
      ['user', 'complete'],
      ['assistant', 'incomplete'],
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
    // the same stored reply as over HTTP
    expect((await b.json(`/chat/sessions/${session.id}/messages`)).body.items.at(-1).text).toBe(REPLY);
  });
});

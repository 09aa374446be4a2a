import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { localKms, oidc, type ByokOptions, type LlmProvider } from '@byok/core';
import { startGeminiStandIn } from '../llm/gemini-stand-in';
import type { LlmStandIn } from '../llm/llm-stand-in';
import { startDevIssuer, type DevIssuer } from '../oidc/dev-issuer';
import { createTestDatabase, type TestDatabase, type TestDatabaseKind } from '../test-databases';
import { ScenarioBrowser, readUntil, sseEvents, streamedText, uiChunks } from './scenario-browser';

/** The origin of the web app the scenarios' browsers come from (the only allowed origin). */
export const SCENARIO_APP_ORIGIN = 'http://app.byok-scenarios.test';
/** A Gemini key the stand-in accepts. It must never come back in a response. */
export const SCENARIO_GEMINI_KEY = 'AIzaSyScenario-valid-0000000000000000001';
/** A well-formed Gemini key the stand-in refuses (the API's 400 `API_KEY_INVALID`). */
export const SCENARIO_BAD_GEMINI_KEY = 'AIzaSyScenario-wrong-0000000000000000002';

/** What the suite gives `start`: the parts every host's byok is built from, alike. */
export interface HttpScenarioContext {
  /** The Gemini stand-in's URL: give the host's byok `gemini({ baseUrl: geminiUrl })`. */
  readonly geminiUrl: string;
  /**
   * The `createByok` options for a byok served at `baseUrl` (where its routes start, e.g.
   * `http://127.0.0.1:4000/api`): the suite's database, KMS, development issuer (started
   * now, registered for `${baseUrl}/auth/callback/dev`), allowed origin, rate limits and
   * the `providers` given. Call it once.
   */
  byokOptions(options: { baseUrl: string; providers: LlmProvider[] }): Promise<ByokOptions>;
}

/** A running host, as `start` returns it. */
export interface HttpScenarioHost {
  /** Where byok's routes start: `http://127.0.0.1:<port>` plus the mount path, no trailing slash. */
  baseUrl: string;
  /** Stops the server and closes the byok. */
  close(): Promise<void>;
}

/** Options of {@link httpScenarios}. */
export interface HttpScenariosOptions {
  /** Shown in the describe block, e.g. `express`. */
  name: string;
  /** Starts one server mounting a byok built from `context.byokOptions(...)`; called once per suite. */
  start(context: HttpScenarioContext): Promise<HttpScenarioHost>;
  /**
   * The byok's database: a `createByok` database option, or a kind of test database
   * (`sqlite`, `postgres`, `mysql`: a fresh one is created for the suite and dropped
   * after it, see `createTestDatabase`). Default in memory.
   */
  database?: ByokOptions['database'] | TestDatabaseKind;
}

/** `{ error: { code, message } }`, with the optional `details` some codes carry (field names, a retry time). */
const ERROR_SHAPE = { error: expect.objectContaining({ code: expect.any(String), message: expect.any(String) }) };

/**
 * byok's HTTP surface as one vitest suite that every host must pass with the same
 * statuses and bodies: sign-in, refresh and sign-out; keys through the Gemini stand-in;
 * preferences; chat sessions; a chat reply streamed as the AI SDK UI message stream,
 * stopped, and resumed with `Last-Event-ID`; the error shapes (404, 405, 400, 413); the
 * CSRF refusals; and `/openapi.json`. One server serves every test of the suite.
 *
 * @example
 * import { createServer } from 'node:http';
 * import type { AddressInfo } from 'node:net';
 * import { createByok } from '@byok/core';
 * import { nodeListener } from '@byok/core/http';
 * import { gemini } from '@byok/gemini';
 * import { httpScenarios } from '@byok/testing/http';
 *
 * httpScenarios({
 *   name: 'node:http',
 *   start: async (context) => {
 *     let handler: ReturnType<typeof nodeListener> | undefined;
 *     const server = createServer((req, res) => void handler?.(req, res));
 *     await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
 *     const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
 *     const byok = await createByok(await context.byokOptions({ baseUrl, providers: [gemini({ baseUrl: context.geminiUrl })] }));
 *     handler = nodeListener(byok.http);
 *     return { baseUrl, close: async () => { server.closeAllConnections(); server.close(); await byok.close(); } };
 *   },
 * });
 */
export function httpScenarios(options: HttpScenariosOptions): void {
  describe(`byok HTTP scenarios: ${options.name}`, () => {
    let gemini: LlmStandIn | undefined;
    let issuer: DevIssuer | undefined;
    let host: HttpScenarioHost | undefined;
    let users = 0;
    let testDatabase: TestDatabase | undefined;

    beforeAll(async () => {
      gemini = await startGeminiStandIn({ keys: [SCENARIO_GEMINI_KEY] });
      const chosen = options.database ?? { memory: true };
      if (typeof chosen === 'string') testDatabase = await createTestDatabase(chosen);
      const database = testDatabase ? testDatabase.config : (chosen as ByokOptions['database']);
      const context: HttpScenarioContext = {
        geminiUrl: gemini.url,
        async byokOptions({ baseUrl, providers }) {
          if (issuer) throw new Error('byokOptions() is called once per suite');
          issuer = await startDevIssuer({
            clients: [{ client_id: 'byok-scenarios', client_secret: 'byok-scenarios-secret', redirect_uris: [`${baseUrl}/auth/callback/dev`] }],
          });
          return {
            database,
            kms: localKms({ keys: `1:${randomBytes(32).toString('base64')}` }),
            providers,
            // Loose enough for the suite's own traffic from one address; the limits have their own tests.
            rateLimits: {
              login_start: { perIp: 1000 },
              login_callback: { perIp: 1000 },
              key_set: { perIp: 1000, perUser: 1000 },
              key_test: { perIp: 1000, perUser: 1000 },
              chat_send: { perIp: 1000, perUser: 1000 },
              chatStream: { perUser: 20 },
            },
            auth: {
              issuers: [oidc({ id: 'dev', issuer: issuer.issuer, clientId: 'byok-scenarios', clientSecret: 'byok-scenarios-secret', development: true })],
              baseUrl,
              allowedOrigins: [SCENARIO_APP_ORIGIN],
              cookieSecret: randomBytes(32).toString('hex'),
            },
          };
        },
      };
      host = await options.start(context);
      if (!issuer) throw new Error('start() must build its byok from context.byokOptions()');
      if (host.baseUrl.endsWith('/')) throw new Error('baseUrl has no trailing slash');
    });
    afterAll(async () => {
      await host?.close();
      await Promise.allSettled([gemini?.close(), issuer?.close()]);
      await testDatabase?.drop();
    });
    beforeEach(() => {
      gemini!.reset();
      gemini!.setReply(undefined);
      gemini!.configure({ chunks: 4, chunkDelayMs: 0 });
    });

    const browser = () => new ScenarioBrowser(host!.baseUrl, SCENARIO_APP_ORIGIN);
    /** A browser signed in as a new person of the development issuer. */
    async function signedIn(): Promise<ScenarioBrowser> {
      const sub = `scenario-${++users}`;
      issuer!.addUser({ sub, email: `${sub}@example.test`, email_verified: true, name: `Scenario ${users}` });
      const b = browser();
      await b.signIn('dev', sub);
      return b;
    }
    /** A signed-in browser with the Gemini key stored. */
    async function withKey(): Promise<ScenarioBrowser> {
      const b = await signedIn();
      const set = await b.json('/keys/gemini', { method: 'PUT', json: { apiKey: SCENARIO_GEMINI_KEY } });
      expect(set.status).toBe(200);
      return b;
    }
    async function newSession(b: ScenarioBrowser): Promise<string> {
      const created = await b.json('/chat/sessions', { method: 'POST', json: { provider: 'gemini', model: 'gemini-2.5-flash' } });
      expect(created.status).toBe(201);
      return created.body.id as string;
    }
    const send = (b: ScenarioBrowser, sessionId: string, text: string, signal?: AbortSignal) =>
      b.fetch(`/chat/sessions/${sessionId}/messages`, { method: 'POST', json: { text }, ...(signal ? { signal } : {}) });
    const deltas = (text: string) => uiChunks(text).filter((c) => c.type === 'text-delta').length;
    const expectError = (res: { status: number; body: any }, status: number, code: string) => {
      expect({ status: res.status, body: res.body }).toEqual({ status, body: ERROR_SHAPE });
      expect(res.body.error.code).toBe(code);
      expect(Object.keys(res.body)).toEqual(['error']);
      expect(Object.keys(res.body.error).filter((k) => k !== 'details')).toEqual(['code', 'message']);
    };

    describe('auth', () => {
      it('answers /me 401 unauthenticated before sign-in, and the profile after the OpenID flow', async () => {
        const b = browser();
        expectError(await b.json('/me'), 401, 'unauthenticated');
        await b.signIn('dev', 'alice');
        const me = await b.json('/me');
        expect(me.status).toBe(200);
        expect(me.headers.get('content-type')).toMatch(/^application\/json/);
        expect(me.headers.get('cache-control')).toBe('no-store');
        expect(me.body).toMatchObject({ id: expect.any(String), email: 'alice@example.test', name: 'Alice Example' });
      });

      it('refreshes with the refresh cookie (new cookies) and with a body token (Bearer tokens), and refuses a rotated token', async () => {
        const b = await signedIn();
        const before = b.jar.header(b.url('/'));
        const viaCookie = await b.json('/auth/refresh', { method: 'POST' });
        expect(viaCookie.status).toBe(200);
        expect(viaCookie.body).toEqual({ accessTokenExpiresAt: expect.any(Number), refreshTokenExpiresAt: expect.any(Number) });
        expect(viaCookie.headers.getSetCookie().length).toBeGreaterThanOrEqual(2);
        expect(b.jar.header(b.url('/'))).not.toBe(before);
        expect((await b.json('/me')).status).toBe(200);

        const refreshToken = refreshCookie(b);
        const api = browser();
        const viaBody = await api.json('/auth/refresh', { method: 'POST', json: { refreshToken } });
        expect(viaBody.status).toBe(200);
        expect(viaBody.body).toEqual({
          accessToken: expect.any(String),
          refreshToken: expect.any(String),
          tokenType: 'Bearer',
          accessTokenExpiresAt: expect.any(Number),
          refreshTokenExpiresAt: expect.any(Number),
        });
        expect(viaBody.headers.getSetCookie()).toEqual([]);
        api.bearer = viaBody.body.accessToken;
        expect((await api.json('/me')).status).toBe(200);
        expectError(await browser().json('/auth/refresh', { method: 'POST', json: {} }), 401, 'unauthenticated');
      });

      it('signs out: 204, cookies cleared, and the session’s refresh token no longer works', async () => {
        const b = await signedIn();
        const refreshToken = refreshCookie(b);
        const out = await b.fetch('/auth/logout', { method: 'POST' });
        expect(out.status).toBe(204);
        expect(await out.text()).toBe('');
        expect(out.headers.getSetCookie().every((c) => /max-age=0/i.test(c))).toBe(true);
        expect(refreshCookie(b)).toBeUndefined();
        const again = await browser().json('/auth/refresh', { method: 'POST', json: { refreshToken } });
        expect(again.status).toBe(401);
        expect(again.body).toEqual(ERROR_SHAPE);
      });
    });

    describe('keys', () => {
      it('sets, tests, shows and removes a Gemini key; the key never comes back', async () => {
        const b = await signedIn();
        expect(await b.json('/providers')).toMatchObject({ status: 200, body: { providers: expect.arrayContaining(['gemini']) } });
        expectError(await b.json('/keys/gemini'), 412, 'key_missing');

        const tested = await b.json('/keys/gemini/test', { method: 'POST', json: { apiKey: SCENARIO_GEMINI_KEY } });
        expect(tested.status).toBe(200);
        expect(tested.body).toMatchObject({ status: 'valid' });
        const bad = await b.json('/keys/gemini/test', { method: 'POST', json: { apiKey: SCENARIO_BAD_GEMINI_KEY } });
        expect(bad.status).toBe(200);
        expect(bad.body).toMatchObject({ status: 'invalid' });
        const refused = await b.json('/keys/gemini', { method: 'PUT', json: { apiKey: SCENARIO_BAD_GEMINI_KEY } });
        expectError(refused, 422, 'key_invalid');

        const set = await b.json('/keys/gemini', { method: 'PUT', json: { apiKey: SCENARIO_GEMINI_KEY } });
        expect(set.status).toBe(200);
        expect(set.body).toMatchObject({ provider: 'gemini', last4: SCENARIO_GEMINI_KEY.slice(-4), status: 'valid' });
        const status = await b.json('/keys/gemini');
        expect(status.status).toBe(200);
        expect(status.body).toEqual(set.body);
        expect((await b.json('/keys')).body).toEqual({ items: [set.body] });
        const storedTest = await b.json('/keys/gemini/test', { method: 'POST', json: {} });
        expect(storedTest).toMatchObject({ status: 200, body: { status: 'valid' } });
        for (const body of [tested, bad, refused, set, status, storedTest].map((r) => JSON.stringify(r.body))) {
          expect(body).not.toContain(SCENARIO_GEMINI_KEY);
          expect(body).not.toContain(SCENARIO_BAD_GEMINI_KEY);
        }

        const removed = await b.fetch('/keys/gemini', { method: 'DELETE' });
        expect(removed.status).toBe(204);
        expectError(await b.json('/keys/gemini'), 412, 'key_missing');
        expect((await b.json('/keys')).body).toEqual({ items: [] });
      });
    });

    describe('preferences', () => {
      it('reads, updates and validates preferences', async () => {
        const b = await signedIn();
        const initial = await b.json('/me/preferences');
        expect(initial.status).toBe(200);
        const updated = await b.json('/me/preferences', { method: 'PATCH', json: { theme: 'dark', language: 'de-CH', timezone: 'Europe/Zurich' } });
        expect(updated.status).toBe(200);
        expect(updated.body).toMatchObject({ theme: 'dark', language: 'de-CH', timezone: 'Europe/Zurich' });
        expect((await b.json('/me/preferences')).body).toEqual(updated.body);
        const invalid = await b.json('/me/preferences', { method: 'PATCH', json: { timezone: 'Mars/Olympus_Mons' } });
        expectError(invalid, 400, 'validation_failed');
        expect(invalid.body.error.message).toContain('timezone');
        expect((await b.json('/me/preferences')).body).toEqual(updated.body);
      });
    });

    describe('chat sessions', () => {
      it('creates, lists, renames and deletes sessions; another user’s session is 404', async () => {
        const b = await signedIn();
        const id = await newSession(b);
        const other = await newSession(b);
        const list = await b.json('/chat/sessions');
        expect(list.status).toBe(200);
        expect(list.body).toMatchObject({ nextCursor: null });
        expect(list.body.items.map((s: { id: string }) => s.id).sort()).toEqual([id, other].sort());
        const page = await b.json('/chat/sessions?limit=1');
        expect(page.body.items).toHaveLength(1);
        expect(page.body.nextCursor).toEqual(expect.any(String));
        const renamed = await b.json(`/chat/sessions/${id}`, { method: 'PATCH', json: { title: 'Scenario talk' } });
        expect(renamed).toMatchObject({ status: 200, body: { id, title: 'Scenario talk', provider: 'gemini', model: 'gemini-2.5-flash' } });
        expect((await b.json(`/chat/sessions/${id}`)).body).toEqual(renamed.body);

        const stranger = await signedIn();
        expectError(await stranger.json(`/chat/sessions/${id}`), 404, 'not_found');
        expectError(await stranger.json(`/chat/sessions/${id}`, { method: 'DELETE' }), 404, 'not_found');

        expect((await b.fetch(`/chat/sessions/${id}`, { method: 'DELETE' })).status).toBe(204);
        expectError(await b.json(`/chat/sessions/${id}`), 404, 'not_found');
        expect((await b.json('/chat/sessions')).body.items.map((s: { id: string }) => s.id)).toEqual([other]);
      });
    });

    describe('the chat turn', () => {
      it('streams a reply as the UI message stream v1 with opaque ids, ending in [DONE], and stores it', async () => {
        const b = await withKey();
        const sessionId = await newSession(b);
        gemini!.setReply(() => 'Hello from the scenario suite, streamed in parts.');
        const sent = await send(b, sessionId, 'Say hello');
        expect(sent.status).toBe(200);
        // the AI SDK's headers, exactly as `ai` sends them, whatever the host
        expect(sent.headers.get('content-type')).toBe('text/event-stream');
        expect(sent.headers.get('cache-control')).toBe('no-cache');
        expect(sent.headers.get('x-accel-buffering')).toBe('no');
        expect(sent.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
        const text = await sent.text();
        expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
        const chunks = uiChunks(text);
        expect(chunks[0]!.type).toBe('start');
        expect(chunks.at(-1)!.type).toBe('finish');
        expect(chunks.map((c) => c.type)).toEqual(expect.arrayContaining(['start-step', 'text-start', 'text-delta', 'text-end', 'finish-step']));
        expect(streamedText(text)).toBe('Hello from the scenario suite, streamed in parts.');
        const ids = sseEvents(text).flatMap((e) => (e.id === undefined ? [] : [e.id]));
        expect(ids.length).toBeGreaterThan(3);
        for (const id of ids) expect(id).toMatch(/^[^:\s]+:\d+:\d+(?:\.\d+)?$/);
        expect(new Set(ids).size).toBe(ids.length);

        const messages = await b.json(`/chat/sessions/${sessionId}/messages`);
        expect(messages.status).toBe(200);
        expect(messages.body.items.map((m: { role: string; status: string; text: string }) => [m.role, m.status, m.text])).toEqual([
          ['user', 'complete', 'Say hello'],
          ['assistant', 'complete', 'Hello from the scenario suite, streamed in parts.'],
        ]);
        expect(text).not.toContain(SCENARIO_GEMINI_KEY);
        // nothing streams any more: a reconnect without Last-Event-ID gets 204
        expect((await b.fetch(`/chat/sessions/${sessionId}/stream`)).status).toBe(204);
      });

      it('stops a live reply: stored incomplete with the text so far, and the sender’s stream ends with [DONE]', async () => {
        const b = await withKey();
        const sessionId = await newSession(b);
        const full = longReply();
        gemini!.setReply(() => full);
        gemini!.configure({ chunks: 40, chunkDelayMs: 25 });
        const sent = await send(b, sessionId, 'Talk for a while');
        expect(sent.status).toBe(200);
        const reader = sent.body!.getReader();
        const decoder = new TextDecoder();
        let text = '';
        while (deltas(text) < 3) text += decoder.decode((await reader.read()).value, { stream: true });
        const stop = await b.json(`/chat/sessions/${sessionId}/stop`, { method: 'POST', json: {} });
        expect(stop.status).toBe(200);
        expect(stop.body).toMatchObject({ stopped: true, message: { role: 'assistant', status: 'incomplete', errorCode: 'cancelled' } });
        const partial = stop.body.message.text as string;
        expect(partial.length).toBeGreaterThan(0);
        expect(partial.length).toBeLessThan(full.length);
        expect(full.startsWith(partial)).toBe(true);
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
        }
        expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
        const reply = (await b.json(`/chat/sessions/${sessionId}/messages`)).body.items.at(-1);
        expect(reply).toMatchObject({ status: 'incomplete', errorCode: 'cancelled', text: partial });
        // a second stop finds nothing to stop
        expect(await b.json(`/chat/sessions/${sessionId}/stop`, { method: 'POST', json: {} })).toMatchObject({ status: 200, body: { stopped: false } });
      });

      it('resumes a dropped stream with Last-Event-ID: what came before plus the rest is the uninterrupted run, byte for byte', async () => {
        const b = await withKey();
        const sessionId = await newSession(b);
        const full = longReply();
        gemini!.setReply(() => full);
        gemini!.configure({ chunks: 30, chunkDelayMs: 20 });
        const controller = new AbortController();
        const sent = await send(b, sessionId, 'Tell me a long story', controller.signal);
        expect(sent.status).toBe(200);
        // an uninterrupted reader of the same run, from its first event
        const whole = b.fetch(`/chat/sessions/${sessionId}/stream`).then(async (r) => {
          expect(r.status).toBe(200);
          return r.text();
        });
        const before = await readUntil(sent, (t) => deltas(t) >= 5, controller);
        expect(before).not.toContain('[DONE]');
        const last = sseEvents(before).filter((e) => e.id !== undefined).at(-1)!.id!;

        const rest = await b.fetch(`/chat/sessions/${sessionId}/stream`, { headers: { 'last-event-id': last } });
        expect(rest.status).toBe(200);
        expect(rest.headers.get('content-type')).toBe('text/event-stream');
        expect(rest.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
        const after = await rest.text();
        expect(sseEvents(after)[0]!.id).not.toBe(last);
        expect(before + after).toBe(await whole);
        expect(streamedText(before + after)).toBe(full);
        const reply = (await b.json(`/chat/sessions/${sessionId}/messages`)).body.items.at(-1);
        expect(reply).toMatchObject({ role: 'assistant', status: 'complete', text: full });
        // once it ended, a reconnect from the last id gets just the end of the stream
        const lastOfAll = sseEvents(after).filter((e) => e.id !== undefined).at(-1)!.id!;
        expect(await (await b.fetch(`/chat/sessions/${sessionId}/stream`, { headers: { 'last-event-id': lastOfAll } })).text()).toBe('data: [DONE]\n\n');
        const generations = gemini!.requests.filter((r) => r.route === 'stream' || r.route === 'generate');
        expect(generations).toHaveLength(1);
      });

      it('refuses a turn without a stored key, and a bad Last-Event-ID, with typed errors', async () => {
        const b = await signedIn();
        const sessionId = await newSession(b);
        const refused = await b.json(`/chat/sessions/${sessionId}/messages`, { method: 'POST', json: { text: 'hi' } });
        expect(refused.status).toBeGreaterThanOrEqual(400);
        expect(refused.status).toBeLessThan(500);
        expect(refused.body).toEqual(ERROR_SHAPE);
        expect(refused.body.error.code).toBe('key_missing');
        const badId = await b.json(`/chat/sessions/${sessionId}/stream`, { headers: { 'last-event-id': 'not an id' } });
        expect(badId.status).toBe(400);
        expect(badId.body).toEqual(ERROR_SHAPE);
      });
    });

    describe('errors', () => {
      it('answers an unknown resource 404, a wrong method 405 with Allow, and bad bodies 400, all as { error: { code, message } }', async () => {
        const b = await signedIn();
        expectError(await b.json('/chat/sessions/0190a2b3-0000-7000-8000-000000000000'), 404, 'not_found');
        // A path byok does not serve is 404 too; its body is the host's (Express and Nest pass it on to the host's own routes).
        expect((await b.fetch('/no-such-route')).status).toBe(404);
        const wrongMethod = await b.json('/providers', { method: 'DELETE' });
        expectError(wrongMethod, 405, 'method_not_allowed');
        expect(wrongMethod.headers.get('allow')).toBe('GET');
        expectError(await b.json('/chat/sessions', { method: 'POST', body: '{"provider": "gemini",', headers: { 'content-type': 'application/json' } }), 400, 'bad_request');
        expectError(await b.json('/chat/sessions', { method: 'POST', body: 'provider=gemini', headers: { 'content-type': 'text/plain' } }), 400, 'bad_request');
        expectError(await b.json('/chat/sessions', { method: 'POST', json: [1, 2] }), 400, 'bad_request');
        const invalid = await b.json('/chat/sessions', { method: 'POST', json: { provider: 'gemini', model: 'gemini-2.5-flash', colour: 'red' } });
        expectError(invalid, 400, 'validation_failed');
        const deep = await b.json('/me/preferences', { method: 'PATCH', body: `${'{"a":'.repeat(200)}1${'}'.repeat(200)}`, headers: { 'content-type': 'application/json' } });
        expectError(deep, 400, 'bad_request');
      });

      it('refuses a body over 1 MiB with 413 payload_too_large, and reads one just under it', async () => {
        const b = await signedIn();
        const tooLarge = await b.json('/me/preferences', { method: 'PATCH', json: { theme: 'dark', padding: 'x'.repeat(1024 * 1024 + 16) } });
        expectError(tooLarge, 413, 'payload_too_large');
        // under the limit: read and validated (the unknown field is refused by validation, not by size)
        const under = await b.json('/me/preferences', { method: 'PATCH', json: { theme: 'dark', padding: 'x'.repeat(512 * 1024) } });
        expectError(under, 400, 'validation_failed');
        expect((await b.json('/me')).status).toBe(200);
      });
    });

    describe('CSRF', () => {
      const create = { provider: 'gemini', model: 'gemini-2.5-flash' };
      it('refuses a cookie-authenticated POST from another site, from Origin: null, from a sibling subdomain and without Origin, all with csrf_rejected', async () => {
        const b = await signedIn();
        const sibling = SCENARIO_APP_ORIGIN.replace('://app.', '://other.');
        for (const origin of ['https://evil.example', 'null', sibling, '']) {
          const refused = await b.json('/chat/sessions', { method: 'POST', json: create, headers: { origin } });
          expectError(refused, 403, 'csrf_rejected');
        }
        // the same cross-site refusals on a streamed turn and on the cookie refresh
        expectError(await b.json('/chat/sessions/x/messages', { method: 'POST', json: { text: 'hi' }, headers: { origin: 'null' } }), 403, 'csrf_rejected');
        expectError(await b.json('/auth/refresh', { method: 'POST', headers: { origin: sibling } }), 403, 'csrf_rejected');
        expect((await b.json('/chat/sessions')).body.items).toEqual([]);
        // the app's own origin passes, and a bearer token is not an ambient credential
        expect((await b.json('/chat/sessions', { method: 'POST', json: create })).status).toBe(201);
        const tokens = await browser().json('/auth/refresh', { method: 'POST', json: { refreshToken: refreshCookie(b) } });
        const api = browser();
        api.bearer = tokens.body.accessToken;
        expect((await api.json('/chat/sessions', { method: 'POST', json: create, headers: { origin: 'https://evil.example' } })).status).toBe(201);
      });
    });

    describe('/openapi.json', () => {
      it('serves the OpenAPI 3.1 document of the surface', async () => {
        const doc = await browser().json('/openapi.json');
        expect(doc.status).toBe(200);
        expect(doc.headers.get('content-type')).toMatch(/^application\/json/);
        expect(doc.body).toMatchObject({ openapi: '3.1.0', info: { title: expect.any(String), version: expect.any(String) } });
        for (const path of ['/me', '/me/preferences', '/keys/{provider}', '/auth/refresh', '/chat/sessions', '/chat/sessions/{sessionId}/messages', '/chat/sessions/{sessionId}/stream', '/openapi.json']) {
          expect(Object.keys(doc.body.paths)).toContain(path);
        }
        expect(doc.body.paths['/chat/sessions'].post.operationId).toBe('chat.sessions.create');
      });
    });
  });
}

function refreshCookie(b: ScenarioBrowser): string | undefined {
  return b.cookie('byok_rt') ?? b.cookie('__Host-byok_rt');
}

function longReply(): string {
  return Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
}

// A real byok server for the client's tests: createByok on the in-memory store with the
// real Gemini provider pointed at the Gemini stand-in, the development OpenID issuer for
// sign-in, served by core's node:http listener on a loopback port. The server side counts
// what arrives and can cut a streamed reply's connection after some events.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createByok, localKms, oidc, type Byok } from '@byok/core';
import { nodeListener } from '@byok/core/http';
import { gemini } from '@byok/gemini';
import { CookieJar, driveLogin, startDevIssuer, startGeminiStandIn, type DevIssuer, type LlmStandIn } from '@byok/testing';
import { createByokClient, memoryTokenStore, type ByokClient, type ByokClientOptions, type TokenStore } from '../src/index';

export const APP = 'http://app.example';
export const GEMINI_KEY = 'AIzaSyCLIENT-alice-0000000000000000000001';

/** What the server saw: one entry per request, in arrival order. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

export interface ClientHarness {
  base: string;
  byok: Byok;
  issuer: DevIssuer;
  gemini: LlmStandIn;
  model: string;
  seen: SeenRequest[];
  /** Moves byok's clock forward (access tokens expire after 5 minutes). */
  advance(ms: number): void;
  /** The next response on a path matching `path` loses its socket after `events` SSE events. */
  dropAfter(path: RegExp, events: number): void;
  /** Requests to `POST /auth/refresh` so far. */
  refreshes(): number;
  /** A browser: a cookie-mode client whose fetch keeps cookies and sends the app's Origin, signed in as `login`. */
  browser(login?: string, options?: Partial<ByokClientOptions>): Promise<{ client: ByokClient; jar: CookieJar; fetch: typeof fetch }>;
  /** An API client in bearer mode, its token store seeded from a sign-in as `login`. */
  apiClient(login?: string, options?: Partial<ByokClientOptions>): Promise<{ client: ByokClient; tokens: TokenStore }>;
  close(): Promise<void>;
}

export async function startClientHarness(): Promise<ClientHarness> {
  const seen: SeenRequest[] = [];
  let drop: { path: RegExp; events: number } | null = null;
  let offset = 0;
  let handler: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | null = null;

  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    if (drop && drop.path.test(req.url ?? '')) {
      const { events } = drop;
      drop = null;
      cutAfterEvents(req, res, events);
    }
    if (!handler) return void res.writeHead(503).end();
    void handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const issuer = await startDevIssuer({
    users: [
      { sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice' },
      { sub: 'bob', email: 'bob@example.test', email_verified: true, name: 'Bob' },
    ],
    clients: [{ client_id: 'byok', client_secret: 'byok-secret', redirect_uris: [`${base}/auth/callback/dev`] }],
  });
  const standIn = await startGeminiStandIn({ keys: [GEMINI_KEY] });
  const byok = await createByok({
    database: { memory: true },
    kms: localKms({ keys: `1:${randomBytes(32).toString('base64')}` }),
    clock: { now: () => Date.now() + offset },
    providers: [gemini({ baseUrl: standIn.url })],
    rateLimits: {
      login_start: { perIp: 10_000 },
      login_callback: { perIp: 10_000 },
      refresh: { perIp: 10_000, perUser: 10_000 },
      chat_send: { perUser: 1_000, perIp: 1_000 },
      chatStream: { perUser: 100 },
    },
    auth: {
      issuers: [oidc({ id: 'dev', issuer: issuer.issuer, clientId: 'byok', clientSecret: 'byok-secret', development: true })],
      baseUrl: base,
      allowedOrigins: [APP],
      cookieSecret: randomBytes(32).toString('hex'),
    },
  });
  handler = nodeListener(byok.http);

  /** A fetch that behaves like a browser on the app's page: a cookie jar and an Origin header. */
  const browserFetch = (jar: CookieJar): typeof fetch =>
    (async (input: RequestInfo | URL, init: RequestInit = {}) => {
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url, base);
      const headers = new Headers(init.headers);
      const cookie = jar.header(url);
      if (cookie && init.credentials !== 'omit') headers.set('cookie', cookie);
      headers.set('origin', APP);
      const response = await fetch(url, { ...init, headers, redirect: 'manual' });
      jar.store(url, response.headers);
      return response;
    }) as typeof fetch;

  async function signIn(login: string): Promise<{ jar: CookieJar; fetch: typeof fetch; client: ByokClient }> {
    const jar = new CookieJar();
    const go = browserFetch(jar);
    const client = createByokClient({ baseUrl: base, fetch: go });
    const start = await go(client.loginUrl('dev', { returnTo: `${APP}/chat` }));
    if (start.status !== 302) throw new Error(`login start answered ${start.status}`);
    const callback = await driveLogin(start.headers.get('location')!, { login });
    const done = await go(callback);
    if (done.status !== 303) throw new Error(`callback answered ${done.status}: ${await done.text()}`);
    return { jar, fetch: go, client };
  }

  return {
    base,
    byok,
    issuer,
    gemini: standIn,
    model: standIn.models[0]!,
    seen,
    advance: (ms) => {
      offset += ms;
    },
    dropAfter: (path, events) => {
      drop = { path, events };
    },
    refreshes: () => seen.filter((r) => r.method === 'POST' && r.path.startsWith('/auth/refresh')).length,
    async browser(login = 'alice', options = {}) {
      const session = await signIn(login);
      return { ...session, client: createByokClient({ baseUrl: base, fetch: session.fetch, ...options }) };
    },
    async apiClient(login = 'alice', options = {}) {
      const { jar } = await signIn(login);
      const refreshToken = jar.get(new URL('/', base), 'byok_rt');
      const accessToken = jar.get(new URL('/', base), 'byok_at');
      if (!refreshToken || !accessToken) throw new Error('the sign-in set no session cookies');
      const tokens = memoryTokenStore({ accessToken, refreshToken });
      return { client: createByokClient({ baseUrl: base, auth: { tokens }, ...options }), tokens };
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await byok.close();
      await issuer.close();
      await standIn.close();
    },
  };
}

/** Destroys the response's socket once `events` SSE events (blank-line terminated) went out. */
function cutAfterEvents(req: IncomingMessage, res: ServerResponse, events: number): void {
  let sent = 0;
  const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (sent >= events) {
      req.socket.destroy();
      return true;
    }
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    const ok = write(chunk, ...rest);
    sent += text.split('\n\n').length - 1;
    if (sent >= events) req.socket.destroy();
    return ok;
  }) as ServerResponse['write'];
}

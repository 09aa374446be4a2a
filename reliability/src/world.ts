// One byok on a real database, signed in through a real OpenID provider, served at the
// same time by every adapter: Express (`byokRouter`), Nest (`ByokModule`), tRPC
// (`createByokRouter` on tRPC's standalone handler) and the fetch handler (on Hono). The
// fuzzer and the isolation property test drive it over HTTP; the leak scan reads what it
// captured (logs, responses) and the database afterwards.
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Hono } from 'hono';
import { serve as serveHono } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { createByok, localKms, oidc, type AuthService, type Byok } from '@byok/core';
import { handleNodeRequest, toFetchHandler } from '@byok/core/http';
import { byokRouter } from '@byok/express';
import { ByokModule } from '@byok/nest';
import { createByokContext, createByokRouter } from '@byok/trpc';
import { gemini } from '@byok/gemini';
import type { RunDatabase } from './run-mode';
import { capturingLogger } from './capturing-logger';
import { createTestDatabase, startDevIssuer, startGeminiStandIn, driveLogin, CookieJar, type DevIssuer, type LlmStandIn, type TestDatabase } from '@byok/testing';

export type AdapterName = 'express' | 'nest' | 'trpc' | 'fetch';
export const ADAPTERS: readonly AdapterName[] = ['express', 'nest', 'trpc', 'fetch'];

/** The browser origin the app runs on; unsafe requests with cookies carry it. */
export const APP_ORIGIN = 'http://app.reliability.test';

export interface Host {
  adapter: AdapterName;
  /** Where byok's REST routes start (`…/api`); for tRPC, where its procedures start (`…/trpc`). */
  base: string;
  close(): Promise<void>;
}

/** A user signed in over HTTP through the development issuer. */
export interface SignedInUser {
  login: string;
  userId: string;
  /** The `cookie` header of the session (access and refresh cookies). */
  cookie: string;
  accessToken: string;
  refreshToken: string;
  /** The provider key stored for this user (a canary: it must never come back). */
  providerKey: string;
  /** When the access token was issued (ms); access tokens live five minutes. */
  issuedAt: number;
  /** Refreshes the tokens (body refresh) when the access token is older than `maxAgeMs`. */
  freshen(maxAgeMs?: number): Promise<void>;
}

/** Every secret the run knows about, by kind, for the leak scan. */
export interface Secrets {
  providerKeys: string[];
  refreshTokens: string[];
  oauthCodes: string[];
  /** Private members (`d`) of byok's token signing keys, base64url. */
  signingKeys: string[];
  /** The local KMS master key and the cookie secret. */
  masterSecrets: string[];
}

export interface World {
  kind: RunDatabase;
  byok: Byok<AuthService>;
  db: TestDatabase;
  gemini: LlmStandIn;
  issuer: DevIssuer;
  hosts: Record<AdapterName, Host>;
  users: SignedInUser[];
  /** Every log line byok wrote (JSON). */
  logs: string[];
  /** Every response byok's hosts wrote: headers (without Set-Cookie, which delivers tokens on purpose) and body. */
  responses: string[];
  secrets: Secrets;
  /** Signs another user in (and stores a provider key for them). */
  signIn(login: string): Promise<SignedInUser>;
  /** Refreshes the list of signing keys' private members (after a rotation). */
  collectSigningKeys(): Promise<void>;
  close(): Promise<void>;
}

export interface WorldOptions {
  database: RunDatabase;
  logins: string[];
}

/** Builds the world: database, stand-ins, byok, the four hosts, and the users signed in with keys stored. */
export async function startWorld(options: WorldOptions): Promise<World> {
  const logs: string[] = [];
  const responses: string[] = [];
  const providerKeys = options.logins.map((login) => `AIzaSyREL-${login}-canary-${randomBytes(9).toString('hex')}`);
  const standIn = await startGeminiStandIn({ keys: [], acceptKey: (key: string) => key.startsWith('AIzaSyREL-') });
  const db = await createTestDatabase(options.database);
  const master = randomBytes(32).toString('base64');
  const cookieSecret = randomBytes(32).toString('hex');
  const secrets: Secrets = { providerKeys: [...providerKeys], refreshTokens: [], oauthCodes: [], signingKeys: [], masterSecrets: [master, cookieSecret] };

  // The Express host also serves sign-in, so it listens before byok knows its base URL.
  let expressHandler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const expressServer = createServer((req, res) => {
    capture(res, responses);
    if (expressHandler) return expressHandler(req, res);
    res.statusCode = 503;
    res.end();
  });
  const expressOrigin = await listen(expressServer);
  const issuer = await startDevIssuer({
    users: options.logins.map((login) => ({ sub: login, email: `${login}@reliability.test`, email_verified: true, name: `User ${login}` })),
    clients: [{ client_id: 'byok-rel', client_secret: 'byok-rel-secret', redirect_uris: [`${expressOrigin}/api/auth/callback/dev`] }],
  });
  const byok = await createByok({
    database: db.config,
    kms: localKms({ keys: `1:${master}` }),
    providers: [gemini({ baseUrl: standIn.url })],
    logger: capturingLogger(logs),
    rateLimits: { login_start: false, login_callback: false, refresh: false, key_test: false, key_set: false, chat_send: false, chatStream: false },
    auth: {
      issuers: [oidc({ id: 'dev', issuer: issuer.issuer, clientId: 'byok-rel', clientSecret: 'byok-rel-secret', development: true })],
      baseUrl: `${expressOrigin}/api`,
      allowedOrigins: [APP_ORIGIN],
      cookieSecret,
    },
  });
  const app = express();
  app.use('/api', byokRouter(byok));
  app.use((_req, res) => void res.status(404).set('x-host-fallthrough', '1').json({ host: 'not byok' }));
  expressHandler = app;

  const hosts: Record<AdapterName, Host> = {
    express: { adapter: 'express', base: `${expressOrigin}/api`, close: () => closeServer(expressServer) },
    nest: await startNest(byok, responses),
    trpc: await startTrpc(byok, responses),
    fetch: await startFetch(byok, responses),
  };

  const users: SignedInUser[] = [];
  const world: World = {
    kind: options.database,
    byok,
    db,
    gemini: standIn,
    issuer,
    hosts,
    users,
    logs,
    responses,
    secrets,
    async signIn(login) {
      if (!issuer.users.some((u) => u.sub === login)) issuer.addUser({ sub: login, email: `${login}@reliability.test`, email_verified: true, name: `User ${login}` });
      const user = await signInOverHttp(hosts.express.base, login, secrets);
      let key = providerKeys[options.logins.indexOf(login)];
      if (key === undefined) {
        key = `AIzaSyREL-${login}-canary-${randomBytes(9).toString('hex')}`;
        secrets.providerKeys.push(key);
      }
      const res = await fetch(`${hosts.express.base}/keys/gemini`, {
        method: 'PUT',
        headers: { cookie: user.cookie, origin: APP_ORIGIN, 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey: key }),
      });
      if (res.status !== 200) throw new Error(`storing ${login}'s key answered ${res.status}: ${await res.text()}`);
      const withKey = { ...user, providerKey: key };
      const signedIn: SignedInUser = Object.assign(withKey, { freshen: freshener(hosts.express.base, withKey) });
      users.push(signedIn);
      return signedIn;
    },
    async collectSigningKeys() {
      for (const key of byok.auth.keys.ring.list()) {
        const jwk = await webcrypto.subtle.exportKey('jwk', key.signKey).catch(() => null);
        const d = jwk?.d ?? jwk?.k;
        if (d && !secrets.signingKeys.includes(d)) secrets.signingKeys.push(d);
      }
    },
    async close() {
      for (const host of Object.values(hosts)) await host.close().catch(() => undefined);
      await byok.close();
      await Promise.allSettled([standIn.close(), issuer.close()]);
      await db.drop();
    },
  };
  for (const login of options.logins) await world.signIn(login);
  await world.collectSigningKeys();
  return world;
}

/** Signs in like a browser: login start → the issuer's login and consent pages → callback. */
async function signInOverHttp(base: string, login: string, secrets: Secrets): Promise<Omit<SignedInUser, 'providerKey' | 'freshen'>> {
  const jar = new CookieJar();
  const start = await fetch(`${base}/auth/login/dev`, { redirect: 'manual' });
  jar.store(start.url, start.headers);
  const location = start.headers.get('location');
  if (start.status !== 302 || !location) throw new Error(`login start answered ${start.status}`);
  const callback = await driveLogin(location, { login });
  const code = new URL(callback).searchParams.get('code');
  if (code) secrets.oauthCodes.push(code);
  const done = await fetch(callback, { redirect: 'manual', headers: { cookie: jar.header(callback) } });
  if (done.status !== 303) throw new Error(`callback answered ${done.status}: ${await done.text()}`);
  jar.store(callback, done.headers);
  const set = Object.fromEntries(done.headers.getSetCookie().map((c) => c.split(';')[0]!.split('=') as [string, string]));
  const accessToken = set.byok_at ?? set['__Host-byok_at'];
  const refreshToken = set.byok_rt ?? set['__Host-byok_rt'];
  if (!accessToken || !refreshToken) throw new Error(`the callback set no session cookies: ${Object.keys(set).join(', ')}`);
  secrets.refreshTokens.push(refreshToken);
  const me = await fetch(`${base}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  if (me.status !== 200) throw new Error(`/me answered ${me.status}`);
  const { id } = (await me.json()) as { id: string };
  return { login, userId: id, cookie: jar.header(`${base}/me`), accessToken, refreshToken, issuedAt: Date.now() };
}

/** Keeps a long run's user signed in: a body refresh before the access token's five minutes are up. */
function freshener(base: string, user: Omit<SignedInUser, 'freshen'>): SignedInUser['freshen'] {
  let pending: Promise<void> | null = null;
  return (maxAgeMs = 150_000) => {
    if (Date.now() - user.issuedAt < maxAgeMs) return Promise.resolve();
    pending ??= (async () => {
      const res = await fetch(`${base}/auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: user.refreshToken }) });
      if (res.status !== 200) throw new Error(`refreshing ${user.login}'s session answered ${res.status}: ${await res.text()}`);
      const tokens = (await res.json()) as { accessToken: string; refreshToken: string };
      user.accessToken = tokens.accessToken;
      user.refreshToken = tokens.refreshToken;
      user.cookie = `byok_at=${tokens.accessToken}; byok_rt=${tokens.refreshToken}`;
      user.issuedAt = Date.now();
    })().finally(() => (pending = null));
    return pending;
  };
}

async function startNest(byok: Byok, responses: string[]): Promise<Host> {
  @Module({ imports: [ByokModule.forRoot({ byok, path: '/api', closeOnShutdown: false })] })
  class ReliabilityModule {}
  const nest: INestApplication = await NestFactory.create<NestExpressApplication>(ReliabilityModule, { logger: false });
  nest.use((_req: IncomingMessage, res: ServerResponse, next: () => void) => {
    capture(res, responses);
    next();
  });
  await nest.listen(0, '127.0.0.1');
  const port = (nest.getHttpServer().address() as AddressInfo).port;
  return { adapter: 'nest', base: `http://127.0.0.1:${port}/api`, close: () => nest.close() };
}

async function startTrpc(byok: Byok<AuthService>, responses: string[]): Promise<Host> {
  const trpc = createHTTPHandler({ router: createByokRouter(byok), createContext: createByokContext, basePath: '/trpc/', maxBodySize: 1024 * 1024, maxBatchSize: 100 });
  const server = createServer((req, res) => {
    capture(res, responses);
    const url = req.url ?? '/';
    if (url.startsWith('/trpc/')) return trpc(req, res);
    if (url.startsWith('/api/')) return void handleNodeRequest(byok.http, req, res, { url: url.slice('/api'.length) });
    res.statusCode = 404;
    res.setHeader('x-host-fallthrough', '1');
    res.end();
  });
  const origin = await listen(server);
  return { adapter: 'trpc', base: `${origin}/trpc`, close: () => closeServer(server) };
}

async function startFetch(byok: Byok, responses: string[]): Promise<Host> {
  const handler = toFetchHandler(byok, { basePath: '/api' });
  const hono = new Hono();
  hono.all('/api/*', (c) => handler(c.req.raw, { remoteAddress: getConnInfo(c).remote.address }));
  hono.notFound((c) => c.json({ host: 'not byok' }, 404, { 'x-host-fallthrough': '1' }));
  const server = await new Promise<Server>((resolve) => {
    const s = serveHono({ fetch: hono.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => capture(res, responses));
  const port = (server.address() as AddressInfo).port;
  return { adapter: 'fetch', base: `http://127.0.0.1:${port}/api`, close: () => closeServer(server) };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** Keeps a copy of what a response writes (headers but Set-Cookie, then the body), to scan for secrets. */
function capture(res: ServerResponse, into: string[]): void {
  const marked = res as ServerResponse & { __captured?: boolean };
  if (marked.__captured) return;
  marked.__captured = true;
  const chunks: Buffer[] = [];
  const keep = (chunk: unknown, encoding?: unknown) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : Buffer.from(chunk as Uint8Array));
  };
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => unknown;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    keep(chunk, rest[0]);
    return write(chunk, ...rest);
  }) as typeof res.write;
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    keep(chunk, rest[0]);
    const headers = { ...res.getHeaders() };
    delete headers['set-cookie'];
    into.push(`${res.statusCode} ${JSON.stringify(headers)}\n${Buffer.concat(chunks).toString('utf8')}`);
    return end(chunk, ...rest);
  }) as typeof res.end;
}

import { randomBytes } from 'node:crypto';
import { createByok, localKms, oidc } from '@byok/core';
import { serializeCookie } from '@byok/core/http';
import type { AuthService, Byok, ByokOptions, OidcIssuerConfig } from '@byok/core';
import type { ByokResponse } from '@byok/core/http';
import { CookieJar, createTestDatabase, driveLogin, startDevIssuer } from '@byok/testing';
import type { DevIssuer, DevIssuerUser, TestDatabase } from '@byok/testing';

export const BASE = 'http://127.0.0.1:4999';
export const APP = 'http://app.example';
export const MASTER_KEYS = `1:${randomBytes(32).toString('base64')}`;
export const COOKIE_SECRET = randomBytes(32).toString('hex');

export type Backend = 'memory' | 'sqlite' | 'postgres' | 'mysql';

/** A dev issuer registered for byok's callbacks under several issuer ids. */
export async function startIssuer(users?: DevIssuerUser[], ids: string[] = ['dev', 'gdev', 'other']): Promise<DevIssuer> {
  return startDevIssuer({
    ...(users ? { users } : {}),
    clients: [{ client_id: 'byok', client_secret: 'byok-secret', redirect_uris: ids.map((id) => `${BASE}/auth/callback/${id}`) }],
  });
}

export function devIssuer(issuer: DevIssuer, id = 'dev'): OidcIssuerConfig {
  return oidc({ id, issuer: issuer.issuer, clientId: 'byok', clientSecret: 'byok-secret', development: true });
}

/** The dev issuer dressed as Google, so Google's linking rules apply to it. */
export function googleLike(issuer: DevIssuer, id = 'gdev'): OidcIssuerConfig {
  return { ...oidc({ id, issuer: issuer.issuer, clientId: 'byok', clientSecret: 'byok-secret' }), kind: 'google' };
}

export interface Database {
  options(): Promise<ByokOptions['database']>;
  close(): Promise<void>;
}

/** A database per backend; SQLite, PostgreSQL and MySQL get one fresh database per byok instance group. */
export async function openDatabase(kind: Backend): Promise<Database> {
  if (kind === 'memory') return { options: async () => ({ memory: true }), close: async () => undefined };
  const dbs: TestDatabase[] = [];
  return {
    async options() {
      const db = await createTestDatabase(kind);
      dbs.push(db);
      return db.config;
    },
    async close() {
      for (const db of dbs) await db.drop();
    },
  };
}

export type AuthOverrides = Partial<NonNullable<ByokOptions['auth']>>;

export async function makeByok(
  database: ByokOptions['database'],
  issuers: OidcIssuerConfig[],
  auth: AuthOverrides = {},
  extra: Partial<ByokOptions> = {},
): Promise<Byok<AuthService>> {
  return createByok({
    database,
    kms: localKms({ keys: MASTER_KEYS }),
    ...extra,
    // Generous limits: these tests sign in many times from one address. The rate-limit tests set their own.
    rateLimits: {
      login_start: { perIp: 10_000 },
      login_callback: { perIp: 10_000 },
      refresh: { perIp: 10_000, perUser: 10_000 },
      ...extra.rateLimits,
    },
    auth: {
      issuers,
      baseUrl: BASE,
      allowedOrigins: [APP],
      cookieSecret: COOKIE_SECRET,
      ...auth,
    },
  });
}

export interface SentRequest {
  headers?: Record<string, string>;
  body?: unknown;
  ip?: string;
}

/** A browser for `byok.http.handle`: keeps cookies, sends the app's Origin on unsafe requests. */
export class Browser {
  readonly jar = new CookieJar();
  origin: string | null = APP;
  userAgent = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

  constructor(
    readonly byok: Byok,
    readonly base = BASE,
  ) {}

  async request(method: string, path: string, init: SentRequest = {}): Promise<ByokResponse> {
    const url = new URL(path, this.base);
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...init.headers };
    const cookie = this.jar.header(url);
    if (cookie && !('cookie' in headers)) headers.cookie = cookie;
    if (method !== 'GET' && this.origin !== null && !('origin' in headers)) headers.origin = this.origin;
    for (const key of Object.keys(headers)) if (headers[key] === '') delete headers[key];
    const response = await this.byok.http.handle({
      method,
      url: url.pathname + url.search,
      headers,
      body: init.body,
      remoteAddress: init.ip ?? '203.0.113.7',
    });
    const set = new Headers();
    for (const c of response.cookies) set.append('set-cookie', serializeCookie(c));
    this.jar.store(url, set);
    return response;
  }

  cookie(name: string): string | undefined {
    return this.jar.get(new URL('/', this.base), name);
  }

  /** Runs the whole sign-in: login start, the issuer's pages, the callback. Returns the callback's response. */
  async signIn(issuerId: string, login: string, query = ''): Promise<ByokResponse> {
    const start = await this.request('GET', `/auth/login/${issuerId}${query}`);
    if (start.status !== 302 || !start.redirect) throw new Error(`login start failed: ${start.status} ${JSON.stringify(start.body)}`);
    const callback = await driveLogin(start.redirect, { login });
    return this.request('GET', callback);
  }
}

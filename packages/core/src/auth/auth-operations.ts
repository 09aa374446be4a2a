import { z } from 'zod';
import { ByokError } from '../errors';
import { parseCookieHeader } from '../http/cookies';
import { defineOperation, type Operation } from '../http/operation';
import type { ByokRequest, SetCookie } from '../http/types';
import type { AuthService } from './auth-service';
import type { SessionTokens } from './session-manager';
import { authCookie } from './auth-cookies';

const issuerParam = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/u);

const refreshOutput = z.object({
  /** Present only when the refresh token came in the body (API clients). */
  accessToken: z.string().optional(),
  refreshToken: z.string().optional(),
  tokenType: z.literal('Bearer').optional(),
  accessTokenExpiresAt: z.number(),
  refreshTokenExpiresAt: z.number(),
});

const sessionSchema = z.object({
  id: z.string(),
  current: z.boolean(),
  device: z.string(),
  userAgent: z.string().nullable(),
  ip: z.string().nullable(),
  createdAt: z.number(),
  lastUsedAt: z.number(),
  expiresAt: z.number(),
});

/**
 * The HTTP operations of sign-in and sessions: login start and callback per issuer,
 * refresh, logout, sign out everywhere, the session list, linking, and the JWKS.
 *
 * @example
 * for (const op of authOperations(byok.auth)) surface.add(op);
 */
export function authOperations(auth: AuthService) {
  const names = auth.cookies;
  const sessionCookies = (tokens: SessionTokens, now: number): SetCookie[] => [
    authCookie(names, names.access, tokens.accessToken, Math.max(1, Math.floor((tokens.accessTokenExpiresAt - now) / 1000))),
    authCookie(names, names.refresh, tokens.refreshToken, Math.max(1, Math.floor((tokens.refreshTokenExpiresAt - now) / 1000))),
  ];
  const clearCookies = (): SetCookie[] => [authCookie(names, names.access, '', 0), authCookie(names, names.refresh, '', 0)];
  const cookiesOf = (request: ByokRequest) => request.cookies ?? parseCookieHeader(request.headers.cookie);

  return [
    defineOperation({
      kind: 'raw',
      name: 'auth.login',
      summary: 'Start signing in with an issuer (redirects to it)',
      auth: 'none',
      rateLimit: 'login_start',
      produces: 'redirect',
      input: z.object({ issuer: issuerParam, returnTo: z.string().max(4096).optional(), loginHint: z.string().max(320).optional() }),
      http: { method: 'GET', path: '/auth/login/:issuer' },
      handler: async ({ input, meta }) => {
        const { url, cookie } = await auth.startLogin(input.issuer, { returnTo: input.returnTo, loginHint: input.loginHint }, meta);
        return { status: 302, redirect: url, cookies: [cookie] };
      },
    }),
    defineOperation({
      kind: 'raw',
      name: 'auth.callback',
      summary: 'The issuer returns here; signs in and redirects to returnTo',
      auth: 'none',
      rateLimit: 'login_callback',
      produces: 'redirect',
      input: z.looseObject({ issuer: issuerParam }),
      http: { method: 'GET', path: '/auth/callback/:issuer' },
      handler: async ({ input, request, meta }) => {
        const done = await auth.finishLogin(input.issuer, request, meta);
        const cookies = [authCookie(names, names.login, '', 0)];
        if (done.session) cookies.push(...sessionCookies(done.session, auth.now()));
        return { status: 303, redirect: done.returnTo, cookies };
      },
    }),
    defineOperation({
      kind: 'json',
      name: 'auth.link',
      summary: 'Link another issuer to the signed-in account (returns the issuer URL to visit)',
      auth: 'required',
      rateLimit: 'login_start',
      input: z.object({ issuer: issuerParam, returnTo: z.string().max(4096).optional() }),
      output: z.object({ url: z.string() }),
      http: { method: 'POST', path: '/auth/link/:issuer' },
      handler: async ({ input, auth: ctx, meta, response }) => {
        const { url, cookie } = await auth.startLogin(input.issuer, { returnTo: input.returnTo, linkUserId: ctx.userId }, meta);
        response.cookies.push(cookie);
        return { url };
      },
    }),
    defineOperation({
      kind: 'json',
      name: 'auth.refresh',
      summary: 'Exchange the refresh token (cookie or body) for new tokens',
      auth: 'none',
      rateLimit: 'refresh',
      input: z.object({ refreshToken: z.string().max(200).optional() }),
      output: refreshOutput,
      http: { method: 'POST', path: '/auth/refresh' },
      handler: async ({ input, request, meta, response }) => {
        const fromBody = input.refreshToken !== undefined;
        const token = input.refreshToken ?? cookiesOf(request)[names.refresh];
        if (!token) throw new ByokError('unauthenticated', 'No refresh token');
        if (!fromBody) auth.assertCookieCsrf(request);
        const tokens = await auth.refresh(token, meta);
        if (fromBody) {
          return {
            accessToken: tokens.accessToken,
            refreshToken: tokens.refreshToken,
            tokenType: 'Bearer' as const,
            accessTokenExpiresAt: tokens.accessTokenExpiresAt,
            refreshTokenExpiresAt: tokens.refreshTokenExpiresAt,
          };
        }
        response.cookies.push(...sessionCookies(tokens, auth.now()));
        return { accessTokenExpiresAt: tokens.accessTokenExpiresAt, refreshTokenExpiresAt: tokens.refreshTokenExpiresAt };
      },
    }),
    defineOperation({
      kind: 'empty',
      name: 'auth.logout',
      summary: 'Sign out this session (its refresh family and the issuer’s tokens)',
      auth: 'none',
      input: z.object({ refreshToken: z.string().max(200).optional() }),
      http: { method: 'POST', path: '/auth/logout' },
      handler: async ({ input, request, meta, response }) => {
        const cookies = cookiesOf(request);
        const viaCookie = input.refreshToken === undefined && (cookies[names.refresh] !== undefined || cookies[names.access] !== undefined);
        if (viaCookie) auth.assertCookieCsrf(request);
        let ctx = null;
        try {
          ctx = await auth.authenticate(request, { unsafe: true, stream: false });
        } catch (error) {
          if ((error as ByokError).code === 'csrf_rejected') throw error;
          ctx = null;
        }
        await auth.logout({ refreshToken: input.refreshToken ?? cookies[names.refresh], auth: ctx }, meta);
        response.cookies.push(...clearCookies());
      },
    }),
    defineOperation({
      kind: 'json',
      name: 'auth.logout_all',
      summary: 'Sign out everywhere',
      auth: 'required',
      input: z.object({}),
      output: z.object({ revoked: z.number() }),
      http: { method: 'POST', path: '/auth/logout-all' },
      handler: async ({ auth: ctx, meta, response }) => {
        const result = await auth.logoutAll(ctx.userId, meta);
        response.cookies.push(...clearCookies());
        return result;
      },
    }),
    defineOperation({
      kind: 'json',
      name: 'auth.sessions.list',
      summary: 'The signed-in devices of this user',
      auth: 'required',
      input: z.object({}),
      output: z.object({ items: z.array(sessionSchema) }),
      http: { method: 'GET', path: '/auth/sessions' },
      handler: async ({ auth: ctx }) => ({ items: await auth.listSessions(ctx.userId, ctx.sessionId) }),
    }),
    defineOperation({
      kind: 'empty',
      name: 'auth.sessions.revoke',
      summary: 'Sign out one of this user’s devices',
      auth: 'required',
      input: z.object({ id: z.string().min(1).max(64) }),
      http: { method: 'DELETE', path: '/auth/sessions/:id' },
      handler: ({ auth: ctx, input, meta }) => auth.revokeSession(ctx.userId, input.id, meta),
    }),
    defineOperation({
      kind: 'raw',
      name: 'auth.jwks',
      summary: 'The public keys that verify access tokens (absent under HS256)',
      auth: 'none',
      produces: 'json',
      input: z.object({}),
      http: { method: 'GET', path: '/.well-known/jwks.json' },
      handler: async () => {
        const jwks = await auth.jwks();
        if (!jwks) throw new ByokError('not_found', 'No JWKS: access tokens are signed with a shared secret');
        return { status: 200, body: jwks, headers: { 'cache-control': 'public, max-age=60' } };
      },
    }),
  ] satisfies Operation[];
}

// Shared setup of the chat HTTP tests: byok instances (the chat harness's: real Gemini
// provider on its stand-in, users with stored keys) signed in through a real OpenID provider,
// served over real HTTP by Express (`byokRouter`) or a plain `node:http` listener.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Redis from 'ioredis';
import { byokRouter } from '@byok/express';
import { oidc, type Byok, type ByokOptions } from '@byok/core';
import { nodeListener } from '@byok/core/http';
import { startDevIssuer, type DevIssuer } from '@byok/testing';
import { startChatHarness, type Backend, type ChatHarness } from './chat-harness';

export const APP_ORIGIN = 'http://app.example';
const AUTH_BASE = 'http://127.0.0.1:4999';
const COOKIE_SECRET = randomBytes(32).toString('hex');

export type Serving = 'express' | 'node';

/** One byok instance on a real HTTP server. */
export interface ServedByok {
  byok: Byok;
  /** Where byok's routes start (`…/api` under Express). */
  base: string;
  close(): Promise<void>;
}

export interface HttpChat {
  h: ChatHarness;
  issuer: DevIssuer;
  /** The first instance, served as asked. */
  a: ServedByok;
  /** Serves another instance on the same database (and Redis, when on), with further options. */
  another(serving?: Serving, extra?: Partial<ByokOptions>): Promise<ServedByok>;
  /** A signed-in user's Authorization header. */
  bearer(userId: string): Promise<Record<string, string>>;
  /** A signed-in user's access cookie (a browser's credential). */
  cookie(userId: string): Promise<string>;
  redis: Redis | undefined;
  close(): Promise<void>;
}

export async function serve(byok: Byok, serving: Serving): Promise<ServedByok> {
  let server: Server;
  let prefix = '';
  if (serving === 'express') {
    const app = express();
    app.use('/api', byokRouter(byok));
    server = createServer(app);
    prefix = '/api';
  } else {
    server = createServer(nodeListener(byok.http));
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}`;
  return {
    byok,
    base,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function startHttpChat(options: { backend: Backend; serving: Serving; redis?: boolean; extra?: Partial<ByokOptions> }): Promise<HttpChat> {
  const issuer = await startDevIssuer({ clients: [{ client_id: 'byok', client_secret: 'byok-secret', redirect_uris: [`${AUTH_BASE}/auth/callback/dev`] }] });
  const redis = options.redis ? new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1, keyPrefix: `byok-test:${randomBytes(6).toString('hex')}:` }) : undefined;
  const shared: Partial<ByokOptions> = {
    auth: {
      issuers: [oidc({ id: 'dev', issuer: issuer.issuer, clientId: 'byok', clientSecret: 'byok-secret', development: true })],
      baseUrl: AUTH_BASE,
      allowedOrigins: [APP_ORIGIN],
      cookieSecret: COOKIE_SECRET,
    },
    ...(redis ? { redis } : {}),
    ...options.extra,
  };
  const h = await startChatHarness(options.backend, shared);
  const served: ServedByok[] = [await serve(h.byok, options.serving)];
  const session = async (userId: string) => {
    const auth = h.byok.auth;
    if (!auth) throw new Error('auth is configured');
    return auth.createSession(userId);
  };
  return {
    h,
    issuer,
    a: served[0]!,
    async another(serving = options.serving, extra = {}) {
      const other = await serve(await h.another({ ...shared, ...extra }), serving);
      served.push(other);
      return other;
    },
    bearer: async (userId) => ({ authorization: `Bearer ${(await session(userId)).accessToken}` }),
    cookie: async (userId) => `byok_at=${(await session(userId)).accessToken}`,
    redis,
    async close() {
      for (const s of served) await s.close();
      await h.close();
      await issuer.close();
      if (redis) {
        const keys = await redis.keys('*');
        // keys() answers with the prefix; del() adds it again
        const prefix = redis.options.keyPrefix ?? '';
        if (keys.length) await redis.del(...keys.map((k) => k.slice(prefix.length)));
        await redis.quit();
      }
    },
  };
}

/** An SSE body split into its events (complete ones only, as an EventSource keeps them). */
export function sseEvents(text: string): Array<{ id?: string; data: string; raw: string }> {
  const out: Array<{ id?: string; data: string; raw: string }> = [];
  let rest = text;
  for (let end = rest.indexOf('\n\n'); end !== -1; end = rest.indexOf('\n\n')) {
    const raw = rest.slice(0, end + 2);
    rest = rest.slice(end + 2);
    const event: { id?: string; data: string; raw: string } = { data: '', raw };
    for (const line of raw.split('\n')) {
      if (line.startsWith('id: ')) event.id = line.slice(4);
      if (line.startsWith('data: ')) event.data = line.slice(6);
    }
    out.push(event);
  }
  return out;
}

/** Reads a streamed response until `stopWhen` holds for the bytes so far; then drops the connection. Returns the complete events' bytes. */
export async function readUntil(response: Response, stopWhen: (text: string) => boolean, controller: AbortController): Promise<string> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (stopWhen(text)) break;
  }
  controller.abort();
  await reader.cancel().catch(() => undefined);
  // What a client keeps of a dropped stream: the events it received whole.
  return text.slice(0, text.lastIndexOf('\n\n') + 2);
}

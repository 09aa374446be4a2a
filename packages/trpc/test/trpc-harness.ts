import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createByok, localKms, oidc, type AuthService, type Byok, type ByokOptions } from '@byok/core';
import { handleNodeRequest } from '@byok/core/http';
import { gemini } from '@byok/gemini';
import { CookieJar, driveLogin, startDevIssuer, type DevIssuer } from '@byok/testing/oidc';
import { startGeminiStandIn, type LlmStandIn } from '@byok/testing/llm';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { createByokContext, createByokRouter } from '@byok/trpc';

/** A key the Gemini stand-in accepts, which must never come back in any response or log. */
export const CANARY = 'AIzaSyTRPC-canary-canary-canary-canary-7731';
/** Another accepted key, for a second user. */
export const OTHER_KEY = 'AIzaSyTRPC-other-other-other-other-other-42';

/** A real HTTP server: tRPC under /trpc, core's HTTP surface (OAuth redirects, JWKS …) under /api. */
export interface TrpcHarness {
  readonly origin: string;
  readonly trpcUrl: string;
  readonly byok: Byok<AuthService>;
  readonly gemini: LlmStandIn;
  readonly issuer: DevIssuer;
  /** Every log line byok wrote, as JSON. */
  readonly logs: string[];
  /** Every response body the server sent. */
  readonly bodies: string[];
  /** Signs in through the development issuer over HTTP; returns the cookie header of the session. */
  signIn(login: string): Promise<string>;
  close(): Promise<void>;
}

/** Starts the harness; `options` are merged into `createByok`'s (rate limits, chat). */
export async function startTrpcHarness(options: Partial<ByokOptions> = {}): Promise<TrpcHarness> {
  const logs: string[] = [];
  const bodies: string[] = [];
  let handler: ((req: Parameters<typeof handleNodeRequest>[1], res: Parameters<typeof handleNodeRequest>[2]) => void) | null = null;
  const server: Server = createServer((req, res) => {
    recordBody(res, bodies);
    if (handler) return handler(req, res);
    res.statusCode = 503;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const standIn = await startGeminiStandIn({ keys: [CANARY, OTHER_KEY] });
  const issuer = await startDevIssuer({
    clients: [{ client_id: 'byok-trpc', client_secret: 'byok-trpc-secret', redirect_uris: [`${origin}/api/auth/callback/dev`] }],
  });
  const sink = (obj: object, msg?: string) => void logs.push(JSON.stringify({ obj, msg }));
  const byok = await createByok({
    database: { memory: true },
    kms: localKms({ keys: `1:${randomBytes(32).toString('base64')}` }),
    providers: [gemini({ baseUrl: standIn.url })],
    logger: { info: sink, warn: sink, error: sink },
    ...options,
    rateLimits: { login_start: { perIp: 1000 }, login_callback: { perIp: 1000 }, ...options.rateLimits },
    auth: {
      issuers: [oidc({ id: 'dev', issuer: issuer.issuer, clientId: 'byok-trpc', clientSecret: 'byok-trpc-secret', development: true })],
      baseUrl: `${origin}/api`,
      allowedOrigins: [origin],
      cookieSecret: randomBytes(32).toString('hex'),
    },
  });
  const trpc = createHTTPHandler({ router: createByokRouter(byok), createContext: createByokContext, basePath: '/trpc/' });
  handler = (req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/trpc/')) return trpc(req, res);
    if (url.startsWith('/api/')) return void handleNodeRequest(byok.http, req, res, { url: url.slice('/api'.length) });
    res.statusCode = 404;
    res.end();
  };

  return {
    origin,
    trpcUrl: `${origin}/trpc`,
    byok,
    gemini: standIn,
    issuer,
    logs,
    bodies,
    async signIn(login) {
      const jar = new CookieJar();
      const start = await fetch(`${origin}/api/auth/login/dev`, { redirect: 'manual' });
      jar.store(start.url, start.headers);
      const location = start.headers.get('location');
      if (start.status !== 302 || !location) throw new Error(`login start answered ${start.status}`);
      const callback = await driveLogin(location, { login });
      const done = await fetch(callback, { redirect: 'manual', headers: { cookie: jar.header(callback) } });
      jar.store(callback, done.headers);
      if (done.status !== 303) throw new Error(`callback answered ${done.status}: ${await done.text()}`);
      return jar.header(`${origin}/trpc/`);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await byok.close();
      await Promise.allSettled([standIn.close(), issuer.close()]);
    },
  };
}

/** Keeps a copy of everything a response writes, to check that no secret ever leaves. */
function recordBody(res: import('node:http').ServerResponse, bodies: string[]): void {
  const chunks: string[] = [];
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => unknown;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (chunk !== undefined && typeof chunk !== 'function') chunks.push(Buffer.from(chunk as string).toString('utf8'));
    return write(chunk, ...rest);
  }) as typeof res.write;
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (chunk !== undefined && typeof chunk !== 'function') chunks.push(Buffer.from(chunk as string).toString('utf8'));
    bodies.push(`${JSON.stringify(res.getHeaders())}\n${chunks.join('')}`);
    return end(chunk, ...rest);
  }) as typeof res.end;
}

import 'reflect-metadata';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Header, HttpException, Inject, Module, Param, Req, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { initTRPC, TRPCError } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import express, { type Request, type Response } from 'express';
import { Hono } from 'hono';
import { ByokError, isByokError, type AuthService, type Byok, type KeyStatus } from '@byok/core';
import { errorResponse, toFetchHandler, type ByokRequest } from '@byok/core/http';
import { byokRouter } from '@byok/express';
import { ByokModule } from '@byok/nest';
import { createByokContext, createByokRouter } from '@byok/trpc';

/** One listening server and the URL of its key-status request. */
export interface Served {
  /** GET this with `Authorization: Bearer <token>` for the user's Gemini key status. */
  url: string;
  close(): Promise<void>;
}

/** The two sides of one framework: byok's adapter and the bare route that does the same work. */
export interface FrameworkPair {
  adapter: Served;
  bare: Served;
}

export type Framework = 'express' | 'nest' | 'trpc' | 'fetch';

/** The intent byok's surface passes for a GET that does not stream (see `createHttpSurface`). */
const SAFE_READ = { unsafe: false, stream: false } as const;

/**
 * The bare routes' work, written the plain way a host would without byok's adapters: the
 * same `byok.auth.authenticate` call the surface makes for an authenticated operation, then
 * the same service call the `keys.get` operation makes.
 */
async function bareKeyStatus(byok: Byok<AuthService>, headers: ByokRequest['headers'], remoteAddress: string | undefined, provider: string): Promise<KeyStatus> {
  const auth = await byok.auth.authenticate({ method: 'GET', url: '/', headers, remoteAddress }, SAFE_READ);
  if (!auth) throw new ByokError('unauthenticated', 'Sign in to continue');
  return byok.keyVault.getStatus(auth.userId, provider);
}

function listen(server: Server, path: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}${path}`, close: () => closeServer(server) });
    });
  });
}

function closeServer(server: Server | ServerType): Promise<void> {
  (server as Server).closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

// ------------------------------------------------------------------ Express

/** Express 5: `app.use('/api', byokRouter(byok))` against an `app.get` route. */
export async function startExpress(byok: Byok<AuthService>): Promise<FrameworkPair> {
  const adapterApp = express();
  adapterApp.use('/api', byokRouter(byok));

  const bareApp = express();
  bareApp.get('/bare/keys/:provider', async (req: Request<{ provider: string }>, res: Response) => {
    try {
      const status = await bareKeyStatus(byok, { authorization: req.headers.authorization, cookie: req.headers.cookie }, req.socket.remoteAddress, req.params.provider);
      res.set('cache-control', 'no-store').json(status);
    } catch (error) {
      const refused = errorResponse(error);
      res.status(refused.status).json(refused.body);
    }
  });

  return {
    adapter: await listen(createServer(adapterApp), '/api/keys/gemini'),
    bare: await listen(createServer(bareApp), '/bare/keys/gemini'),
  };
}

// ------------------------------------------------------------------ NestJS

const BENCH_BYOK = 'BENCH_BYOK';

@Controller('bare/keys')
class BareKeysController {
  // Explicit tokens: tsx (esbuild) emits no decorator metadata.
  constructor(@Inject(BENCH_BYOK) private readonly byok: Byok<AuthService>) {}

  @Get(':provider')
  @Header('cache-control', 'no-store')
  async status(@Param('provider') provider: string, @Req() req: IncomingMessage): Promise<KeyStatus> {
    try {
      return await bareKeyStatus(this.byok, { authorization: req.headers.authorization, cookie: req.headers.cookie }, req.socket.remoteAddress, provider);
    } catch (error) {
      const refused = errorResponse(error);
      throw new HttpException(refused.body as Record<string, unknown>, refused.status);
    }
  }
}

async function listenNest(app: INestApplication, path: string): Promise<Served> {
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}${path}`, close: () => app.close() };
}

/** Nest 11 on platform-express: `ByokModule.forRoot()` against a controller route. */
export async function startNest(byok: Byok<AuthService>): Promise<FrameworkPair> {
  @Module({ imports: [ByokModule.forRoot({ byok, path: '/api', closeOnShutdown: false })] })
  class AdapterModule {}

  @Module({ controllers: [BareKeysController], providers: [{ provide: BENCH_BYOK, useValue: byok }] })
  class BareModule {}

  const adapterApp = await NestFactory.create<NestExpressApplication>(AdapterModule, { logger: false });
  const bareApp = await NestFactory.create<NestExpressApplication>(BareModule, { logger: false });
  return {
    adapter: await listenNest(adapterApp, '/api/keys/gemini'),
    bare: await listenNest(bareApp, '/bare/keys/gemini'),
  };
}

// ------------------------------------------------------------------ tRPC

/** The query string of `user.getApiKeyStatus({ provider: 'gemini' })` as tRPC's HTTP link sends it unbatched. */
const TRPC_KEY_STATUS = `/user.getApiKeyStatus?input=${encodeURIComponent(JSON.stringify({ provider: 'gemini' }))}`;

/** The bare procedure's input: `{ provider? }` or nothing, the provider defaulting to `gemini`. */
function providerInput(raw: unknown): { provider: string } {
  if (raw === undefined || raw === null) return { provider: 'gemini' };
  const provider = typeof raw === 'object' && !Array.isArray(raw) ? ((raw as { provider?: unknown }).provider ?? 'gemini') : undefined;
  if (typeof provider !== 'string' || provider.length < 1 || provider.length > 32) throw new TRPCError({ code: 'BAD_REQUEST', message: 'provider must be 1–32 characters' });
  return { provider };
}

/**
 * tRPC 11 on its standalone Node server: `createByokRouter()` with `createByokContext`
 * against a plain router whose `user.getApiKeyStatus` does the same (the original
 * backend's procedure: `{ hasKey, ...status }`, "no key" as a status).
 */
export async function startTrpc(byok: Byok<AuthService>): Promise<FrameworkPair> {
  const adapterServer = createHTTPServer({ router: createByokRouter(byok), createContext: createByokContext, maxBodySize: 1024 * 1024 });

  const t = initTRPC.context<{ authorization: string | undefined; cookie: string | undefined; remoteAddress: string | undefined }>().create();
  const bareRouter = t.router({
    user: t.router({
      getApiKeyStatus: t.procedure.input(providerInput).query(async ({ ctx, input }) => {
        const { provider } = input;
        try {
          return { hasKey: true as const, ...(await bareKeyStatus(byok, { authorization: ctx.authorization, cookie: ctx.cookie }, ctx.remoteAddress, provider)) };
        } catch (error) {
          if (isByokError(error) && error.code === 'key_missing') return { hasKey: false as const, provider };
          throw new TRPCError({ code: isByokError(error) && error.status === 401 ? 'UNAUTHORIZED' : 'INTERNAL_SERVER_ERROR', cause: error });
        }
      }),
    }),
  });
  const bareServer = createHTTPServer({
    router: bareRouter,
    createContext: ({ req }) => ({ authorization: req.headers.authorization, cookie: req.headers.cookie, remoteAddress: req.socket.remoteAddress }),
    maxBodySize: 1024 * 1024,
  });
  return {
    adapter: await listen(adapterServer, TRPC_KEY_STATUS),
    bare: await listen(bareServer, TRPC_KEY_STATUS),
  };
}

// ------------------------------------------------------------------ fetch (Hono)

function serveHono(app: Hono, path: string): Promise<Served> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      resolve({ url: `http://127.0.0.1:${info.port}${path}`, close: () => closeServer(server) });
    });
  });
}

/** Hono 4 on @hono/node-server: `toFetchHandler(byok)` mounted as its docs mount it, against a `app.get` route. */
export async function startFetch(byok: Byok<AuthService>): Promise<FrameworkPair> {
  const handler = toFetchHandler(byok, { basePath: '/api' });
  const adapterApp = new Hono();
  adapterApp.all('/api/*', (c) => handler(c.req.raw, { remoteAddress: getConnInfo(c).remote.address }));

  const bareApp = new Hono();
  bareApp.get('/bare/keys/:provider', async (c) => {
    try {
      const status = await bareKeyStatus(
        byok,
        { authorization: c.req.header('authorization'), cookie: c.req.header('cookie') },
        getConnInfo(c).remote.address,
        c.req.param('provider'),
      );
      c.header('cache-control', 'no-store');
      return c.json(status);
    } catch (error) {
      const refused = errorResponse(error);
      return c.json(refused.body as object, refused.status as 401);
    }
  });

  return {
    adapter: await serveHono(adapterApp, '/api/keys/gemini'),
    bare: await serveHono(bareApp, '/bare/keys/gemini'),
  };
}

export const FRAMEWORKS: Record<Framework, (byok: Byok<AuthService>) => Promise<FrameworkPair>> = {
  express: startExpress,
  nest: startNest,
  trpc: startTrpc,
  fetch: startFetch,
};

/**
 * Express with the adapter, for the streamed chat reply (`url` is where byok's routes
 * start); beside it `/ping`, which answers at once (the loopback round trip's floor); and
 * a probe in front that notes, per streamed request, the ms from its arrival in Express to
 * the first body byte written (where the time goes: in the server or on the way).
 */
export async function startExpressAdapter(byok: Byok<AuthService>): Promise<Served & { pingUrl: string; firstWrites: number[] }> {
  const firstWrites: number[] = [];
  const app = express();
  app.get('/ping', (_req, res) => {
    res.status(200).end('ok');
  });
  app.use((req, res, next) => {
    if (req.method !== 'POST') return next();
    const arrived = process.hrtime.bigint();
    const write = res.write;
    res.write = function (this: Response, ...args: Parameters<Response['write']>) {
      res.write = write;
      firstWrites.push(Number(process.hrtime.bigint() - arrived) / 1e6);
      return write.apply(this, args);
    } as Response['write'];
    next();
  });
  app.use('/api', byokRouter(byok));
  const served = await listen(createServer(app), '/api');
  return { ...served, pingUrl: served.url.replace(/\/api$/, '/ping'), firstWrites };
}

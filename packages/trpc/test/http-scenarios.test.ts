import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { createByok } from '@byok/core';
import { handleNodeRequest } from '@byok/core/http';
import { gemini } from '@byok/gemini';
import { httpScenarios } from '@byok/testing/http';
import { createByokContext, createByokRouter } from '@byok/trpc';

// byok's HTTP scenarios on a tRPC host's HTTP routes, mounted as the tRPC example mounts
// them: tRPC under /trpc, core's HTTP handler (sign-in, refresh, sign-out, JWKS, OpenAPI,
// and every other operation) under /api, on one node:http server.
httpScenarios({
  name: 'tRPC server’s HTTP routes (/api beside /trpc)',
  start: async (context) => {
    let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
    const server = createServer((req, res) => {
      if (handler) return handler(req, res);
      res.statusCode = 503;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
    const byok = await createByok(await context.byokOptions({ baseUrl, providers: [gemini({ baseUrl: context.geminiUrl })] }));
    const trpc = createHTTPHandler({ router: createByokRouter(byok), createContext: createByokContext, basePath: '/trpc/', maxBodySize: 1024 * 1024 });
    handler = (req, res) => {
      const url = req.url ?? '/';
      if (url.startsWith('/trpc/')) return trpc(req, res);
      if (url === '/api' || url.startsWith('/api/') || url.startsWith('/api?')) return void handleNodeRequest(byok.http, req, res, { url: url.slice('/api'.length) || '/' });
      res.statusCode = 404;
      res.end();
    };
    return {
      baseUrl,
      async close() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await byok.close();
      },
    };
  },
});

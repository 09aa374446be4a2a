import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { createByok } from '@byok/core';
import { toFetchHandler, type FetchHandler } from '@byok/core/http';
import { gemini } from '@byok/gemini';
import { httpScenarios } from '@byok/testing/http';

// byok's HTTP scenarios through `toFetchHandler`, mounted under /api in a real Hono 4 app
// served by @hono/node-server, beside a route of the host's own.
httpScenarios({
  name: 'fetch handler in Hono (@hono/node-server)',
  start: async (context) => {
    let handler: FetchHandler | undefined;
    const app = new Hono();
    app.get('/health', (c) => c.json({ host: true }));
    app.all('/api/*', (c) => (handler ? handler(c.req.raw, { remoteAddress: getConnInfo(c).remote.address }) : c.text('starting', 503)));
    const server: ServerType = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
    const byok = await createByok(await context.byokOptions({ baseUrl, providers: [gemini({ baseUrl: context.geminiUrl })] }));
    handler = toFetchHandler(byok, { basePath: '/api' });
    return {
      baseUrl,
      async close() {
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await byok.close();
      },
    };
  },
});

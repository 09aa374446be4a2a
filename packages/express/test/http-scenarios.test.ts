import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createByok } from '@byok/core';
import { byokRouter } from '@byok/express';
import { gemini } from '@byok/gemini';
import { httpScenarios } from '@byok/testing/http';

// byok's HTTP scenarios on a real Express 5 app: `byokRouter` under /api, beside a route
// of the host's own.
httpScenarios({
  name: 'express (byokRouter)',
  start: async (context) => {
    const app = express();
    app.get('/health', (_req, res) => void res.json({ host: true }));
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
    const byok = await createByok(await context.byokOptions({ baseUrl, providers: [gemini({ baseUrl: context.geminiUrl })] }));
    app.use('/api', byokRouter(byok));
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

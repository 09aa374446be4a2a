import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createByok } from '@byok/core';
import { nodeListener } from '@byok/core/http';
import { gemini } from '@byok/gemini';
import { selectTestBackends } from '@byok/testing';
import { httpScenarios } from '@byok/testing/http';

// byok's HTTP scenarios on a plain node:http server with core's `nodeListener` at the root,
// on every store: in memory and on each real database this run uses (BYOK_TEST_DATABASES).
for (const database of selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const)) {
  httpScenarios({
    name: `node:http (nodeListener) on ${database}`,
    ...(database === 'memory' ? {} : { database }),
    start: async (context) => {
      let listener: ReturnType<typeof nodeListener> | undefined;
      const server = createServer((req, res) => {
        if (listener) return void listener(req, res);
        res.statusCode = 503;
        res.end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const byok = await createByok(await context.byokOptions({ baseUrl, providers: [gemini({ baseUrl: context.geminiUrl })] }));
      listener = nodeListener(byok.http);
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
}

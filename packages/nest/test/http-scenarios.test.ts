import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createByok } from '@byok/core';
import { gemini } from '@byok/gemini';
import { ByokModule, Public } from '@byok/nest';
import { httpScenarios } from '@byok/testing/http';

@Controller('health')
class HealthController {
  @Public()
  @Get()
  health() {
    return { host: true };
  }
}

// byok's HTTP scenarios in a real Nest 11 app on @nestjs/platform-express: `ByokModule`
// at its default path /api, Nest's own body parser left on, the global guard on, beside a
// route of the host's own. The app is served by a node:http server started first, so
// byok's base URL (with the port) is known when the module is built.
httpScenarios({
  name: 'nest (ByokModule)',
  start: async (context) => {
    let app: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
    const server = createServer((req, res) => {
      if (app) return app(req, res);
      res.statusCode = 503;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
    const byok = await createByok(await context.byokOptions({ baseUrl, providers: [gemini({ baseUrl: context.geminiUrl })] }));

    @Module({ imports: [ByokModule.forRoot({ byok, globalGuard: true })], controllers: [HealthController] })
    class AppModule {}

    const nest = await NestFactory.create<NestExpressApplication>(AppModule, { logger: false });
    // Nest's own JSON parser stops at body-parser's default 100 KB and answers larger bodies
    // 413 on byok's routes too, where every other host reads up to byok's 1 MiB. A host
    // that serves byok raises it to byok's limit (before init, so it replaces the default).
    nest.useBodyParser('json', { limit: 1024 * 1024 });
    await nest.init();
    app = nest.getHttpAdapter().getInstance();
    return {
      baseUrl,
      async close() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        // closes the byok too (closeOnShutdown)
        await nest.close();
      },
    };
  },
});

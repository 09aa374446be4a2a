import { Controller, Get, Inject, Module, UseGuards, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuthService, Byok, KeyVault } from '@byok/core';
import { BYOK, BYOK_KEY_VAULT, ByokAuthGuard, ByokModule, CurrentUser } from '@byok/nest';
import { bodyOf, testByok } from './test-byok';

/**
 * `ByokModule.forRootAsync()` with a factory that takes a host provider from an imported
 * module, the guard per controller instead of globally, and byok closed with the app.
 */

const BYOK_SETTINGS = 'test:byok-settings';

interface Settings {
  path: string;
  byok: Byok<AuthService>;
}

@Controller('reports')
@UseGuards(ByokAuthGuard)
class ReportsController {
  constructor(
    @Inject(BYOK_KEY_VAULT) private readonly vault: KeyVault,
    @Inject(BYOK) private readonly byok: Byok,
  ) {}

  @Get()
  async list(@CurrentUser('id') id: string) {
    return { id, keys: await this.vault.listStatuses(id), sameVault: this.vault === this.byok.keyVault };
  }
}

@Controller('status')
class StatusController {
  @Get()
  status() {
    return { ok: true };
  }
}

describe('ByokModule.forRootAsync', () => {
  let byok: Byok<AuthService>;
  let app: INestApplication;
  let origin: string;
  const factoryCalls: Settings[] = [];

  beforeAll(async () => {
    ({ byok } = await testByok());

    @Module({ providers: [{ provide: BYOK_SETTINGS, useFactory: async () => ({ path: '/byok/', byok }) }], exports: [BYOK_SETTINGS] })
    class SettingsModule {}

    @Module({
      imports: [
        ByokModule.forRootAsync({
          imports: [SettingsModule],
          inject: [BYOK_SETTINGS],
          useFactory: async (settings: Settings) => {
            factoryCalls.push(settings);
            return { byok: settings.byok, path: settings.path };
          },
        }),
      ],
      controllers: [ReportsController, StatusController],
    })
    class AppModule {}

    app = await NestFactory.create(AppModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    origin = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close();
  });

  it('builds its options once from the injected provider and mounts byok at the path it returned', async () => {
    expect(factoryCalls).toHaveLength(1);
    expect(factoryCalls[0]!.byok).toBe(byok);
    let res = await fetch(`${origin}/byok/openapi.json`);
    expect(res.status).toBe(200);
    expect((await bodyOf(res)).openapi).toMatch(/^3\.1/);
    res = await fetch(`${origin}/api/openapi.json`);
    expect(res.status).toBe(404);
  });

  it('guards only the controllers that ask for it, and serves byok’s services by token', async () => {
    const { user } = await byok.users.findOrCreate({ issuer: 'https://issuer.test', subject: 'async' });
    const { accessToken } = await byok.auth.createSession(user.id);
    let res = await fetch(`${origin}/reports`);
    expect(res.status).toBe(401);
    expect((await bodyOf(res)).error.code).toBe('unauthenticated');
    res = await fetch(`${origin}/reports`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(res.status).toBe(200);
    expect(await bodyOf(res)).toEqual({ id: user.id, keys: [], sameVault: true });
    res = await fetch(`${origin}/status`);
    expect(await bodyOf(res)).toEqual({ ok: true });
    res = await fetch(`${origin}/byok/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(res.status).toBe(200);
    expect((await bodyOf(res)).id).toBe(user.id);
  });

  it('closes byok when the app closes', async () => {
    const close = vi.spyOn(byok, 'close');
    await app.close();
    expect(close).toHaveBeenCalledTimes(1);
  });
});

import { Controller, Get, Header, Inject } from '@nestjs/common';
import type { KeyStatus, KeyVault, UserProfile } from '@byok/core';
import { BYOK_KEY_VAULT, CurrentUser, Public } from '@byok/nest';

/** What the page learns from `GET /example/config.json`. */
export interface ExamplePageConfig {
  mode: 'offline' | 'google';
  /** The issuer id the page signs in with (`/api/auth/login/<id>`). */
  issuer: 'dev' | 'google';
  offline: { issuer: string; users: { sub: string; name: string; email: string }[]; sampleKey: string; geminiUrl: string } | null;
}

export const EXAMPLE_PAGE_CONFIG = 'example:page-config';

/**
 * The host's own routes beside byok's: every route needs a byok session (the module's
 * global guard) unless it is `@Public()`.
 */
@Controller('example')
export class ExampleController {
  constructor(
    @Inject(EXAMPLE_PAGE_CONFIG) private readonly pageConfig: ExamplePageConfig,
    @Inject(BYOK_KEY_VAULT) private readonly vault: KeyVault,
  ) {}

  @Public()
  @Get('config.json')
  @Header('cache-control', 'no-store')
  config(): ExamplePageConfig {
    return this.pageConfig;
  }

  /** The signed-in user and the status of their keys, from the host's side. */
  @Get('whoami')
  @Header('cache-control', 'no-store')
  async whoami(@CurrentUser() user: UserProfile): Promise<{ id: string; name: string | null; keys: KeyStatus[] }> {
    return { id: user.id, name: user.name, keys: await this.vault.listStatuses(user.id) };
  }
}

import { Controller, Get, Header, Inject } from '@nestjs/common';
import type { KeyStatus, KeyVault, UserProfile } from '@byok/core';
import { BYOK_KEY_VAULT, CurrentUser, Public } from '@byok/nest';

export const EXAMPLE_MODE = 'example:mode';

/**
 * The host's own routes beside byok's: every route needs a byok session (the module's
 * global guard) unless it is `@Public()`. The page itself is served by the shared page
 * handler, mounted before Nest's routes.
 */
@Controller('example')
export class ExampleController {
  constructor(
    @Inject(EXAMPLE_MODE) private readonly mode: 'offline' | 'google',
    @Inject(BYOK_KEY_VAULT) private readonly vault: KeyVault,
  ) {}

  /** Which mode the example runs in; open to everyone. */
  @Public()
  @Get('info')
  @Header('cache-control', 'no-store')
  info(): { mode: 'offline' | 'google'; host: 'NestJS' } {
    return { mode: this.mode, host: 'NestJS' };
  }

  /** The signed-in user and the status of their keys, from the host's side. */
  @Get('whoami')
  @Header('cache-control', 'no-store')
  async whoami(@CurrentUser() user: UserProfile): Promise<{ id: string; name: string | null; keys: KeyStatus[] }> {
    return { id: user.id, name: user.name, keys: await this.vault.listStatuses(user.id) };
  }
}

import { Inject } from '@nestjs/common';

// Injection tokens are strings, not classes or symbols: a host that loads this package
// twice (its CommonJS and its ESM build) still resolves one provider per token, and
// nothing depends on `emitDecoratorMetadata`, which byok's build does not emit.

/** The `Byok` instance (`createByok(...)`). */
export const BYOK = 'byok:instance';
/** The resolved {@link ByokModuleOptions}. */
export const BYOK_MODULE_OPTIONS = 'byok:module-options';
/** `byok.users`: profiles and preferences. */
export const BYOK_USERS = 'byok:users';
/** `byok.keyVault`: users' model API keys. */
export const BYOK_KEY_VAULT = 'byok:key-vault';
/** `byok.chat`: chat sessions, messages and streamed turns. */
export const BYOK_CHAT = 'byok:chat';
/** `byok.audit`: the audit trail. */
export const BYOK_AUDIT = 'byok:audit';
/** `byok.auth`: sign-in and sessions (null without the `auth` option). */
export const BYOK_AUTH = 'byok:auth';

/**
 * Injects the `Byok` instance into a constructor parameter.
 *
 * @example
 * import { Injectable } from '@nestjs/common';
 * import type { Byok } from '@byok/core';
 * import { InjectByok } from '@byok/nest';
 *
 * @Injectable()
 * class ChatAudit {
 *   constructor(@InjectByok() private readonly byok: Byok) {}
 * }
 */
export function InjectByok(): PropertyDecorator & ParameterDecorator {
  return Inject(BYOK);
}

import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { AuthContext, UserProfile } from '@byok/core';

/** Where {@link ByokAuthGuard} leaves who it let in, on the request. */
export const BYOK_IDENTITY = Symbol.for('byok.nest.identity');

/** What the guard found: the session's auth context and the byok user. */
export interface ByokIdentity {
  auth: AuthContext;
  user: UserProfile;
}

/** The identity {@link ByokAuthGuard} attached to a request, or undefined when no guard ran. */
export function byokIdentity(request: object): ByokIdentity | undefined {
  return (request as { [BYOK_IDENTITY]?: ByokIdentity })[BYOK_IDENTITY];
}

/**
 * The byok user of the request (a `UserProfile`), or one of its fields, as established by
 * {@link ByokAuthGuard}. `undefined` on a route the guard did not check (`@Public()`).
 *
 * @example
 * import { Controller, Get, UseGuards } from '@nestjs/common';
 * import type { UserProfile } from '@byok/core';
 * import { ByokAuthGuard, CurrentUser } from '@byok/nest';
 *
 * @Controller('profile')
 * @UseGuards(ByokAuthGuard)
 * class ProfileController {
 *   @Get()
 *   profile(@CurrentUser() user: UserProfile) {
 *     return { id: user.id, name: user.name };
 *   }
 *
 *   @Get('id')
 *   id(@CurrentUser('id') id: string) {
 *     return { id };
 *   }
 * }
 */
export const CurrentUser = createParamDecorator((field: keyof UserProfile | undefined, context: ExecutionContext) => {
  const user = byokIdentity(context.switchToHttp().getRequest<object>())?.user;
  return field === undefined ? user : user?.[field];
});

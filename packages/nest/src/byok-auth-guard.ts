import { HttpException, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ByokError, isByokError, type Byok } from '@byok/core';
import { errorResponse } from '@byok/core/http';
import { BYOK_IDENTITY } from './current-user';
import { toByokRequest, type NestHttpRequest } from './nest-request';
import { BYOK_PUBLIC } from './public';
import { BYOK } from './tokens';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Lets a host route through only with a live byok session (the access cookie or an
 * `Authorization: Bearer` token, cookie requests that change state passing byok's CSRF
 * check), and attaches the byok user for {@link CurrentUser}. Refusals are byok's
 * `{ error: { code, message } }` with the code's status (401 `unauthenticated`, 403
 * `csrf_rejected`, …). Use it per controller with `@UseGuards(ByokAuthGuard)`, or on
 * every route with `ByokModule.forRoot({ globalGuard: true, ... })` and `@Public()`
 * where no session is needed.
 *
 * @example
 * import { Controller, Get, UseGuards } from '@nestjs/common';
 * import { ByokAuthGuard } from '@byok/nest';
 *
 * @Controller('reports')
 * @UseGuards(ByokAuthGuard)
 * class ReportsController {
 *   @Get()
 *   list() {
 *     return [];
 *   }
 * }
 */
@Injectable()
export class ByokAuthGuard implements CanActivate {
  constructor(
    @Inject(BYOK) private readonly byok: Byok,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean | undefined>(BYOK_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    // Only HTTP requests carry a byok session; anything else is refused rather than waved through.
    if (context.getType() !== 'http') return false;
    const req = context.switchToHttp().getRequest<NestHttpRequest>();
    try {
      if (!this.byok.auth) throw new ByokError('config_invalid', 'ByokAuthGuard needs byok’s `auth` option');
      const request = toByokRequest(req);
      const auth = await this.byok.auth.authenticate(request, { unsafe: !SAFE_METHODS.has(request.method), stream: false });
      if (!auth) throw new ByokError('unauthenticated', 'Sign in to continue');
      const user = await this.byok.users.get(auth.userId).catch((error: unknown) => {
        // The session outlived its user (deleted data): not signed in any more.
        throw isByokError(error) && error.code === 'not_found' ? new ByokError('unauthenticated', 'Sign in to continue') : error;
      });
      Object.defineProperty(req, BYOK_IDENTITY, { value: { auth, user }, configurable: true });
      return true;
    } catch (error) {
      const { status, body } = errorResponse(error);
      if (status >= 500) this.byok.logger.error({ err: error }, 'byok guard failed');
      throw new HttpException(body as Record<string, unknown>, status);
    }
  }
}

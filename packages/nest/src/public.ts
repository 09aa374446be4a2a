import { SetMetadata } from '@nestjs/common';

/**
 * The metadata key `@Public()` sets. A string, not a symbol, so a second copy of this
 * package (its CommonJS beside its ESM build) reads what the first one wrote.
 */
export const BYOK_PUBLIC = 'byok:public';

/**
 * Lets a route or a whole controller through {@link ByokAuthGuard} without a session.
 *
 * @example
 * import { Controller, Get } from '@nestjs/common';
 * import { Public } from '@byok/nest';
 *
 * @Controller('health')
 * class HealthController {
 *   @Public()
 *   @Get()
 *   health() {
 *     return { ok: true };
 *   }
 * }
 */
export function Public(): MethodDecorator & ClassDecorator {
  return SetMetadata(BYOK_PUBLIC, true);
}

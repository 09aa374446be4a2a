import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency } from '@nestjs/common';
import type { Byok } from '@byok/core';

/** What {@link ByokModule.forRoot} takes, and what a `forRootAsync` factory returns. */
export interface ByokModuleOptions {
  /** The byok instance (`await createByok({...})`). */
  byok: Byok;
  /**
   * Where byok's routes are mounted, under the application's global prefix (and its
   * exclusions). Default `/api`: `GET /api/me`, `GET /api/openapi.json`, …
   */
  path?: string;
  /** Close byok when the Nest application closes (`app.close()`). Default true. */
  closeOnShutdown?: boolean;
}

/** Options that shape the module itself, so they cannot come from an async factory. */
export interface ByokModuleStaticOptions {
  /**
   * Register {@link ByokAuthGuard} as a global guard: every host route then needs a
   * byok session unless it is marked `@Public()`. Default false (use
   * `@UseGuards(ByokAuthGuard)` where needed). byok's own routes are never behind it.
   */
  globalGuard?: boolean;
}

/** What {@link ByokModule.forRootAsync} takes: a factory with its dependencies. */
export interface ByokModuleAsyncOptions extends ByokModuleStaticOptions, Pick<ModuleMetadata, 'imports'> {
  /** Builds the options, e.g. from a `ConfigService`; may be async. */
  useFactory: (...args: any[]) => ByokModuleOptions | Promise<ByokModuleOptions>;
  /** The providers handed to `useFactory`, in order. */
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
}

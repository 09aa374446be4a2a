import {
  Inject,
  Module,
  RequestMethod,
  type DynamicModule,
  type MiddlewareConsumer,
  type ModuleMetadata,
  type NestModule,
  type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import { APP_GUARD, ApplicationConfig, HttpAdapterHost } from '@nestjs/core';
import type { Byok } from '@byok/core';
import { ByokAuthGuard } from './byok-auth-guard';
import { byokBodyErrors, byokMiddleware, byokPathCheck, REST_PARAMETER } from './byok-middleware';
import type { ByokModuleAsyncOptions, ByokModuleOptions, ByokModuleStaticOptions } from './byok-module-options';
import { BYOK, BYOK_AUDIT, BYOK_AUTH, BYOK_CHAT, BYOK_KEY_VAULT, BYOK_MODULE_OPTIONS, BYOK_USERS } from './tokens';

const SERVICES: Provider[] = [
  { provide: BYOK, useFactory: (options: ByokModuleOptions) => options.byok, inject: [BYOK_MODULE_OPTIONS] },
  { provide: BYOK_USERS, useFactory: (byok: Byok) => byok.users, inject: [BYOK] },
  { provide: BYOK_KEY_VAULT, useFactory: (byok: Byok) => byok.keyVault, inject: [BYOK] },
  { provide: BYOK_CHAT, useFactory: (byok: Byok) => byok.chat, inject: [BYOK] },
  { provide: BYOK_AUDIT, useFactory: (byok: Byok) => byok.audit, inject: [BYOK] },
  { provide: BYOK_AUTH, useFactory: (byok: Byok) => byok.auth, inject: [BYOK] },
  ByokAuthGuard,
];

/**
 * Mounts byok into a NestJS 11 app: its routes under `path` (after the global prefix),
 * the `Byok` instance and its services as providers ({@link BYOK}, {@link BYOK_USERS},
 * …), and {@link ByokAuthGuard} for the host's own routes. The module is global. It
 * needs neither `bodyParser: false` nor anything else of the host: a body Nest parsed is
 * handed to byok as it is, so `rawBody` keeps working on the host's routes.
 *
 * @example
 * import { Module } from '@nestjs/common';
 * import { createByok } from '@byok/core';
 * import { ByokModule } from '@byok/nest';
 *
 * @Module({
 *   imports: [
 *     ByokModule.forRootAsync({
 *       useFactory: async () => ({ byok: await createByok({ database: { sqlite: 'data/byok.db' } }), path: '/api' }),
 *     }),
 *   ],
 * })
 * class AppModule {}
 */
@Module({})
export class ByokModule implements NestModule, OnApplicationShutdown {
  constructor(
    @Inject(BYOK_MODULE_OPTIONS) private readonly options: ByokModuleOptions,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(ApplicationConfig) private readonly appConfig: ApplicationConfig,
  ) {}

  /**
   * The module for a byok instance the host already has.
   *
   * @example
   * import { Module } from '@nestjs/common';
   * import { createByok } from '@byok/core';
   * import { ByokModule } from '@byok/nest';
   *
   * const byok = await createByok({ database: { sqlite: 'data/byok.db' } });
   *
   * @Module({ imports: [ByokModule.forRoot({ byok, globalGuard: true })] })
   * export class AppModule {}
   */
  static forRoot(options: ByokModuleOptions & ByokModuleStaticOptions): DynamicModule {
    return ByokModule.build({ provide: BYOK_MODULE_OPTIONS, useValue: options }, options, []);
  }

  /**
   * The module with its options from a factory that may be async and take the host's
   * providers (`inject`, from the modules in `imports`).
   *
   * @example
   * import { Module } from '@nestjs/common';
   * import { createByok } from '@byok/core';
   * import { ByokModule } from '@byok/nest';
   *
   * @Module({
   *   imports: [
   *     ByokModule.forRootAsync({
   *       inject: ['DATABASE_URL'],
   *       useFactory: async (url: string) => ({ byok: await createByok({ database: { postgres: url } }) }),
   *     }),
   *   ],
   * })
   * export class AppModule {}
   */
  static forRootAsync(options: ByokModuleAsyncOptions): DynamicModule {
    const provider: Provider = { provide: BYOK_MODULE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] };
    return ByokModule.build(provider, options, options.imports ?? []);
  }

  private static build(options: Provider, statics: ByokModuleStaticOptions, imports: NonNullable<ModuleMetadata['imports']>): DynamicModule {
    return {
      module: ByokModule,
      global: true,
      imports,
      providers: [options, ...SERVICES, ...(statics.globalGuard ? [{ provide: APP_GUARD, useExisting: ByokAuthGuard }] : [])],
      exports: [BYOK_MODULE_OPTIONS, BYOK, BYOK_USERS, BYOK_KEY_VAULT, BYOK_CHAT, BYOK_AUDIT, BYOK_AUTH, ByokAuthGuard],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    const path = mountPath(this.options.path ?? '/api');
    const prefix = mountPath(this.appConfig.getGlobalPrefix());
    // Registered now, this sits after Nest's body parsers and before every route.
    this.adapterHost.httpAdapter.use(`${prefix}${path}` || '/', byokBodyErrors(this.options.byok));
    this.adapterHost.httpAdapter.use(`${prefix}${path}` || '/', byokPathCheck(this.options.byok));
    consumer.apply(byokMiddleware(this.options.byok)).forRoutes({ path: `${path}/*${REST_PARAMETER}`, method: RequestMethod.ALL });
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.options.closeOnShutdown ?? true) await this.options.byok.close();
  }
}

/** `/api` from `api`, `/api/`, `/api`; '' for the root. */
function mountPath(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  return trimmed ? `/${trimmed}` : '';
}

import { Module, type DynamicModule } from '@nestjs/common';
import { createByok, type ByokOptions } from '@byok/core';
import { ByokModule } from '@byok/nest';
import { EXAMPLE_MODE, ExampleController } from './example.controller';

/** What the server decided before Nest starts: byok's options and the mode. */
export interface ExampleSettings {
  byokOptions: ByokOptions;
  mode: 'offline' | 'google';
}

const EXAMPLE_SETTINGS = 'example:settings';

@Module({})
export class SettingsModule {
  static register(settings: ExampleSettings): DynamicModule {
    return {
      module: SettingsModule,
      providers: [
        { provide: EXAMPLE_SETTINGS, useValue: settings },
        { provide: EXAMPLE_MODE, useValue: settings.mode },
      ],
      exports: [EXAMPLE_SETTINGS, EXAMPLE_MODE],
    };
  }
}

/**
 * The example app: byok under `/api` (created by the module's async factory from the
 * settings provider, closed with the app) and the host's `/example/*` routes behind
 * byok's guard.
 */
@Module({})
export class AppModule {
  static register(settings: ExampleSettings): DynamicModule {
    const settingsModule = SettingsModule.register(settings);
    return {
      module: AppModule,
      imports: [
        settingsModule,
        ByokModule.forRootAsync({
          globalGuard: true,
          imports: [settingsModule],
          inject: [EXAMPLE_SETTINGS],
          useFactory: async (s: ExampleSettings) => ({ byok: await createByok(s.byokOptions), path: '/api' }),
        }),
      ],
      controllers: [ExampleController],
    };
  }
}

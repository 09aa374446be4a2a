// @byok/example-shared — what the three example servers (Express, NestJS, tRPC) share:
// the mode check, offline mode's stand-ins and generated keys, real services from the
// environment, signed audit checkpoints, the startup log and the chat page.
export { resolveExampleMode, REAL_CONFIG_VARIABLES } from './example-mode.js';
export type { ExampleMode, Env } from './example-mode.js';
export { exampleDatabase } from './example-database.js';
export { startOfflineServices, offlineReplyScript, OFFLINE_SAMPLE_KEY, OFFLINE_SAMPLE_KEYS, OFFLINE_KEY_RULES } from './offline-services.js';
export type { OfflineServices, OfflineServicesOptions } from './offline-services.js';
export { offlineCheckpointFiles, generateCheckpointKeyFiles, checkpointOptions, readCheckpointKey, EXAMPLE_CHECKPOINT_CADENCE } from './audit-checkpoints.js';
export { prepareExample, exampleKms, EXAMPLE_PROVIDERS } from './example-setup.js';
export type { PrepareExampleOptions, PreparedExample, ExamplePageConfig, ExampleProviderId } from './example-setup.js';
export { examplePageHandler, clientBuildFiles, PUBLIC_DIR } from './example-page.js';
export type { PageHandler } from './example-page.js';
export { startupLines } from './example-log.js';
export { freePort, originOf } from './net.js';

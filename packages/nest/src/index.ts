// @byok/nest — byok in a NestJS 11 app: ByokModule mounts byok's routes and provides
// its services, ByokAuthGuard and the decorators protect the host's own routes.
export { ByokModule } from './byok-module';
export type { ByokModuleOptions, ByokModuleAsyncOptions, ByokModuleStaticOptions } from './byok-module-options';
export { ByokAuthGuard } from './byok-auth-guard';
export { Public, BYOK_PUBLIC } from './public';
export { CurrentUser, byokIdentity } from './current-user';
export type { ByokIdentity } from './current-user';
export { BYOK, BYOK_MODULE_OPTIONS, BYOK_USERS, BYOK_KEY_VAULT, BYOK_CHAT, BYOK_AUDIT, BYOK_AUTH, InjectByok } from './tokens';

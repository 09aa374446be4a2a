// @byok/core public surface. Every export is listed by name (no `export *` of internals).
export { ByokError, isByokError, toByokError, ERROR_CODES } from './errors';
export type { ByokErrorCode, ByokErrorOptions, TrpcCode } from './errors';
export { sanitize, sanitizeString, isSecretName, REDACTED } from './util/sanitize';
export { uuidv7, isUuid } from './util/ids';
export { systemClock } from './util/clock';
export type { Clock } from './util/clock';
export { pageInput, pageOutput, encodeCursor, decodeCursor } from './util/cursor';
export type { Page, PageInput } from './util/cursor';
export type {
  Store,
  StoreDialect,
  MigrationReport,
  MigrationStatus,
  UserRow,
  IdentityRow,
  UserPatch,
  UsersRepository,
  PreferencesRow,
  PreferencesRepository,
  AuditOutcome,
  AuditRow,
  AuditPersonalRow,
  AuditHead,
  AuditAppendInput,
  AuditListQuery,
  AuditRepository,
} from './store/store';

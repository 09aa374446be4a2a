import { ByokError, isByokError } from '../../errors';

/** Reads the driver-specific code of a database error (pg `code`, mysql2 `errno`/`code`, better-sqlite3 `code`). */
function codes(error: unknown): { code: string | undefined; errno: number | undefined } {
  if (typeof error !== 'object' || error === null) return { code: undefined, errno: undefined };
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  return { code: typeof code === 'string' ? code : undefined, errno: typeof errno === 'number' ? errno : undefined };
}

/**
 * True for failures that a re-run of the whole transaction may cure: PostgreSQL
 * serialization failure (40001) and deadlock (40P01), MySQL deadlock (1213) and lock wait
 * timeout (1205), SQLite BUSY (another connection holds the write lock past busy_timeout).
 */
export function isRetryableDatabaseError(error: unknown): boolean {
  const { code, errno } = codes(error);
  if (code === '40001' || code === '40P01') return true;
  if (errno === 1213 || errno === 1205 || code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT') return true;
  if (code !== undefined && code.startsWith('SQLITE_BUSY')) return true;
  return false;
}

/** True for a unique or primary-key violation on any of the three engines. */
export function isUniqueViolation(error: unknown): boolean {
  const { code, errno } = codes(error);
  return (
    code === '23505' ||
    errno === 1062 ||
    code === 'ER_DUP_ENTRY' ||
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/** True for a foreign-key violation (a row referencing a missing parent). */
export function isForeignKeyViolation(error: unknown): boolean {
  const { code, errno } = codes(error);
  return code === '23503' || errno === 1452 || errno === 1216 || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/**
 * Maps the database errors the store contract names to ByokErrors: a unique violation is
 * `conflict`, a missing parent row is `not_found`, a retryable failure that outlived its
 * retries is `conflict`. Anything else (including errors thrown by the caller's own code
 * inside a transaction) passes through unchanged.
 */
export function mapDatabaseError(error: unknown): unknown {
  if (isByokError(error)) return error;
  if (isUniqueViolation(error)) return new ByokError('conflict', 'The record already exists', { cause: error });
  if (isForeignKeyViolation(error)) return new ByokError('not_found', 'The referenced record does not exist', { cause: error });
  if (isRetryableDatabaseError(error)) {
    return new ByokError('conflict', 'The database stayed contended; try again', { cause: error });
  }
  if (isUnstorableCharacter(error)) {
    // PostgreSQL text cannot hold U+0000 (an id or a field a client sent with a NUL).
    return new ByokError('validation_failed', 'The input contains a character that cannot be stored (U+0000)', { cause: error });
  }
  if (isConnectionLost(error)) {
    return new ByokError('database_unavailable', 'The database cannot be reached; try again shortly', { cause: error, details: { retryAfterMs: 1_000 } });
  }
  return error;
}

/** The connection to the database failed or went away (a restart, a failover, a network cut). */
function isConnectionLost(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (typeof e !== 'object' || e === null) return false;
  const code = typeof e.code === 'string' ? e.code : '';
  // Node socket errors; PostgreSQL's admin_shutdown, crash_shutdown, cannot_connect_now; MySQL's lost connection.
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', '57P01', '57P02', '57P03', 'PROTOCOL_CONNECTION_LOST', 'ER_SERVER_SHUTDOWN'].includes(code)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|connection is closed|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message);
}

/** Jittered exponential backoff before re-running a transaction: ~5 ms, 10 ms, 20 ms … capped at 250 ms. */
export function retryDelay(attempt: number): number {
  const base = Math.min(250, 5 * 2 ** attempt);
  return base / 2 + Math.random() * base;
}

/** PostgreSQL's character_not_in_repertoire (a NUL in UTF-8 text) and untranslatable_character. */
function isUnstorableCharacter(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '22021' || code === '22P05';
}

import type { Kysely } from 'kysely';
import type { SqlDialect } from './connect';
import { isUniqueViolation } from './database-errors';

/**
 * Inserts a row unless one with the same key exists, without leaving the transaction
 * unusable: `ON CONFLICT DO NOTHING` on PostgreSQL (where a failed statement would abort
 * the transaction) and SQLite; on MySQL a plain insert whose duplicate-key error is
 * caught (MySQL rolls back only the statement; `INSERT IGNORE` would also swallow
 * foreign-key errors). Other errors propagate. Returns whether a row was inserted.
 */
export async function insertIgnore(
  db: Kysely<any>,
  dialect: SqlDialect,
  table: string,
  key: string | string[],
  values: Record<string, unknown>,
): Promise<boolean> {
  if (dialect === 'mysql') {
    try {
      await db.insertInto(table).values(values).execute();
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }
  const columns = Array.isArray(key) ? key : [key];
  const result = await db
    .insertInto(table)
    .values(values)
    .onConflict((oc) => oc.columns(columns).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
}

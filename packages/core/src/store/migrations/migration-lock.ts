import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { ByokError } from '../../errors';
import type { SqlDialect } from '../kysely/connect';
import { isRetryableDatabaseError } from '../kysely/database-errors';
import { insertIgnore } from '../kysely/insert-ignore';

const LOCK_ID = 'migrate';

export interface MigrationLockOptions {
  db: Kysely<any>;
  dialect: SqlDialect;
  table: string;
  /**
   * Wall-clock time for expiries and the wait deadline. Not the host's injected Clock:
   * a frozen test clock would make a crashed holder's lock last forever.
   */
  now?: () => number;
  /** A holder that stops renewing (crashed process) loses the lock after this long. Default 60 s. */
  ttlMs?: number;
  /** Give up waiting after this long. Default 120 s. */
  waitMs?: number;
}

/**
 * byok's own migration lock, the same on all three engines: one row in
 * `<prefix>migration_lock` with an owner and an expiry. It is taken by an insert (or by a
 * conditional update of an expired row), renewed while held, and deleted by its owner.
 * Unlike an advisory lock it needs no dedicated connection, and unlike Kysely's migration
 * lock it also excludes a second process on the same SQLite file.
 */
export async function withMigrationLock<T>(options: MigrationLockOptions, fn: () => Promise<T>): Promise<T> {
  const { db, table } = options;
  const now = options.now ?? Date.now;
  const ttl = options.ttlMs ?? 60_000;
  const deadline = now() + (options.waitMs ?? 120_000);
  const owner = randomUUID();
  await ensureLockTable(options);

  for (let attempt = 0; ; attempt++) {
    if (await tryAcquire(options, owner, ttl)) break;
    if (now() > deadline) throw new ByokError('migration_failed', 'Timed out waiting for the migration lock held by another process');
    await sleep(Math.min(500, 20 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random()));
  }

  const renew = setInterval(() => {
    db.updateTable(table)
      .set({ expires_at: now() + ttl })
      .where('id', '=', LOCK_ID)
      .where('owner', '=', owner)
      .execute()
      .catch(() => undefined);
  }, Math.max(1000, Math.floor(ttl / 3)));
  renew.unref?.();
  try {
    return await fn();
  } finally {
    clearInterval(renew);
    await db.deleteFrom(table).where('id', '=', LOCK_ID).where('owner', '=', owner).execute();
  }
}

async function tryAcquire(options: MigrationLockOptions, owner: string, ttl: number): Promise<boolean> {
  const { db, table } = options;
  const now = (options.now ?? Date.now)();
  try {
    if (await insertIgnore(db, options.dialect, table, 'id', { id: LOCK_ID, owner, expires_at: now + ttl })) return true;
    const taken = await db
      .updateTable(table)
      .set({ owner, expires_at: now + ttl })
      .where('id', '=', LOCK_ID)
      .where('expires_at', '<', now)
      .executeTakeFirst();
    return Number(taken.numUpdatedRows) === 1;
  } catch (error) {
    // SQLite: another process holds the write lock past busy_timeout — just wait and retry.
    if (isRetryableDatabaseError(error)) return false;
    throw error;
  }
}

/** Creates the lock table; two processes doing so at once is tolerated. */
async function ensureLockTable({ db, dialect, table }: MigrationLockOptions): Promise<void> {
  await createTableTolerant(db, table, async () => {
    let builder = db.schema
      .createTable(table)
      .ifNotExists()
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('owner', 'varchar(36)', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull());
    if (dialect === 'mysql') builder = builder.modifyEnd(mysqlTableOptions);
    await builder.execute();
  });
}

/**
 * `CREATE TABLE IF NOT EXISTS` is not race-free everywhere (PostgreSQL can report a
 * duplicate type, SQLite can be BUSY): retry, and accept when the table now exists.
 */
export async function createTableTolerant(db: Kysely<any>, table: string, create: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await create();
      return;
    } catch (error) {
      if (await tableExists(db, table)) return;
      if (attempt >= 20) throw error;
      await sleep(20 + Math.random() * 80);
    }
  }
}

export async function tableExists(db: Kysely<any>, table: string): Promise<boolean> {
  try {
    await sql`select 1 from ${sql.table(table)} where 1 = 0`.execute(db);
    return true;
  } catch {
    return false;
  }
}

/** Table options byok uses on MySQL: InnoDB, utf8mb4, byte-wise (case-sensitive) comparison. */
export const mysqlTableOptions = sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin`;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

import type { Kysely } from 'kysely';
import { ByokError } from '../../errors';
import type { Clock } from '../../util/clock';
import type { SqlDialect } from '../kysely/connect';
import type { MigrationReport, MigrationStatus } from '../store';
import type { Migration } from './migration';
import { migrationContext } from './migration';
import { createTableTolerant, mysqlTableOptions, tableExists, withMigrationLock } from './migration-lock';

export interface MigratorOptions {
  db: Kysely<any>;
  dialect: SqlDialect;
  prefix: string;
  clock: Clock;
  migrations: readonly Migration[];
  /** Migration lock tuning: holder expiry (default 60 s) and how long to wait (default 120 s). */
  lock?: { ttlMs?: number; waitMs?: number };
}

/**
 * Runs byok's migrations under byok's own lock. Bookkeeping lives in
 * `<prefix>migrations` (name, applied_at). Each migration and its bookkeeping row commit
 * in one transaction on PostgreSQL and SQLite (their DDL is transactional); MySQL commits
 * DDL implicitly, so there a migration that fails half-way must be repaired by hand.
 * The applied set is re-read after the lock is taken, so a migration never runs twice.
 */
export class Migrator {
  readonly #options: MigratorOptions;

  constructor(options: MigratorOptions) {
    assertOrdered(options.migrations);
    this.#options = options;
  }

  get #table(): string {
    return `${this.#options.prefix}migrations`;
  }

  async status(): Promise<MigrationStatus[]> {
    const applied = (await tableExists(this.#options.db, this.#table)) ? await this.#applied() : new Map<string, number>();
    return this.#options.migrations.map((m) => ({ name: m.name, appliedAt: applied.get(m.name) ?? null }));
  }

  async migrate(): Promise<MigrationReport> {
    const { db, dialect, prefix, migrations } = this.#options;
    // Fast path: everything applied, no lock needed (the common start-up).
    if (await tableExists(db, this.#table)) {
      const applied = await this.#applied();
      if (migrations.every((m) => applied.has(m.name))) return { applied: [] };
    }
    return withMigrationLock({ db, dialect, table: `${prefix}migration_lock`, ...this.#options.lock }, async () => {
      await this.#ensureTable();
      const applied = await this.#applied();
      const done: string[] = [];
      for (const migration of migrations) {
        if (applied.has(migration.name)) continue;
        try {
          await this.#run(migration);
        } catch (cause) {
          throw new ByokError('migration_failed', `Migration ${migration.name} failed`, { cause });
        }
        done.push(migration.name);
      }
      return { applied: done };
    });
  }

  async #run(migration: Migration): Promise<void> {
    const { db, dialect, prefix, clock } = this.#options;
    const record = (on: Kysely<any>) =>
      on.insertInto(this.#table).values({ name: migration.name, applied_at: clock.now() }).execute();
    if (dialect === 'mysql') {
      await migration.up(migrationContext(db, dialect, prefix));
      await record(db);
      return;
    }
    await db.transaction().execute(async (trx) => {
      await migration.up(migrationContext(trx, dialect, prefix));
      await record(trx);
    });
  }

  async #applied(): Promise<Map<string, number>> {
    const rows = await this.#options.db.selectFrom(this.#table).select(['name', 'applied_at']).execute();
    return new Map(rows.map((r) => [r.name as string, Number(r.applied_at)]));
  }

  async #ensureTable(): Promise<void> {
    const { db, dialect } = this.#options;
    await createTableTolerant(db, this.#table, async () => {
      let builder = db.schema
        .createTable(this.#table)
        .ifNotExists()
        .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('applied_at', 'bigint', (c) => c.notNull());
      if (dialect === 'mysql') builder = builder.modifyEnd(mysqlTableOptions);
      await builder.execute();
    });
  }
}

function assertOrdered(migrations: readonly Migration[]): void {
  const names = migrations.map((m) => m.name);
  const sorted = [...names].sort();
  if (new Set(names).size !== names.length || names.some((n, i) => n !== sorted[i])) {
    throw new ByokError('config_invalid', 'Migrations must have unique names listed in ascending order');
  }
}

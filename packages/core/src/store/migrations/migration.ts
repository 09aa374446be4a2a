import type { CreateTableBuilder, Kysely } from 'kysely';
import { mysqlTableOptions } from './migration-lock';
import type { SqlDialect } from '../kysely/connect';

/**
 * One step of byok's schema. Files are numbered (`0001-foundation.ts`, `0002-vault.ts` …),
 * append-only: a released migration is never edited, a change is a new file.
 */
export interface Migration {
  /** Unique and sortable: the file's name without extension, e.g. `0001-foundation`. */
  name: string;
  up(ctx: MigrationContext): Promise<void>;
}

/** What a migration gets: the database, the engine, and portable building blocks. */
export interface MigrationContext {
  db: Kysely<any>;
  dialect: SqlDialect;
  /** The host's table prefix (default `byok_`); `table('users')` → `byok_users`. */
  prefix: string;
  table(name: string): string;
  /**
   * `db.schema.createTable(table(name))`, with InnoDB / utf8mb4 / binary collation on
   * MySQL so text compares byte-for-byte (OIDC subjects are case-sensitive) as on the
   * other engines.
   */
  createTable(name: string): CreateTableBuilder<string, never>;
  /** Portable column types (DESIGN §3). */
  types: PortableTypes;
}

export interface PortableTypes {
  /** UUIDv7 text ids. */
  id: 'varchar(36)';
  /** Epoch milliseconds and counters. */
  bigint: 'bigint';
  /** Booleans as 0/1 on every engine. */
  boolean: 'smallint';
  /** Unbounded text (JSON, sealed blobs, URLs). Not indexable on MySQL: use `varchar(n)`. */
  text: 'text';
  varchar(length: number): `varchar(${number})`;
}

const portableTypes: PortableTypes = {
  id: 'varchar(36)',
  bigint: 'bigint',
  boolean: 'smallint',
  text: 'text',
  varchar: (length) => `varchar(${length})` as `varchar(${number})`,
};

export function migrationContext(db: Kysely<any>, dialect: SqlDialect, prefix: string): MigrationContext {
  const table = (name: string): string => `${prefix}${name}`;
  return {
    db,
    dialect,
    prefix,
    table,
    types: portableTypes,
    createTable: (name) => {
      const builder = db.schema.createTable(table(name));
      return dialect === 'mysql'
        ? builder.modifyEnd(mysqlTableOptions)
        : builder;
    },
  };
}

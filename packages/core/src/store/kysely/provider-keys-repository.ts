import { CompiledQuery, type Kysely } from 'kysely';
import { LABELLED_SEALED_TABLES, type ProviderKeyForUse, type ProviderKeyRow, type ProviderKeysRepository, type SealedRecord, type SealedRecordsRepository, type SealedTable } from '../provider-keys-repository';
import type { KyselyStore } from './kysely-store';
import { num } from './tables';

type DbRow = Record<string, unknown>;

/** The SQL of the two key lookups. */
interface LookupSql {
  get: string;
  forUse: string;
}

/** The columns `getForUse` reads. */
const FOR_USE_COLUMNS = ['id', 'user_id', 'provider', 'status', 'sealed'] as const;

function compileLookups(db: Kysely<any>, table: string): LookupSql {
  const byUserAndProvider = db.selectFrom(table).where('user_id', '=', '').where('provider', '=', '');
  return { get: byUserAndProvider.selectAll().compile().sql, forUse: byUserAndProvider.select([...FOR_USE_COLUMNS]).compile().sql };
}

function toForUse(r: DbRow): ProviderKeyForUse {
  return { id: r.id as string, userId: r.user_id as string, provider: r.provider as string, status: r.status as ProviderKeyRow['status'], sealed: r.sealed as string };
}

/** A `getForUse` row read as column values, in {@link FOR_USE_COLUMNS} order. */
function forUseFromValues(v: unknown[]): ProviderKeyForUse {
  return { id: v[0] as string, userId: v[1] as string, provider: v[2] as string, status: v[3] as ProviderKeyRow['status'], sealed: v[4] as string };
}

function toRow(r: DbRow): ProviderKeyRow {
  return {
    id: r.id as string,
    userId: r.user_id as string,
    provider: r.provider as string,
    sealed: r.sealed as string,
    kek: r.kek as string,
    last4: r.last4 as string,
    fingerprint: r.fingerprint as string,
    status: r.status as ProviderKeyRow['status'],
    statusReason: (r.status_reason as string | null) ?? null,
    validatedAt: r.validated_at === null || r.validated_at === undefined ? null : num(r.validated_at),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

function fromRow(k: ProviderKeyRow): DbRow {
  return {
    id: k.id,
    user_id: k.userId,
    provider: k.provider,
    sealed: k.sealed,
    kek: k.kek,
    last4: k.last4,
    fingerprint: k.fingerprint,
    status: k.status,
    status_reason: k.statusReason,
    validated_at: k.validatedAt,
    created_at: k.createdAt,
    updated_at: k.updatedAt,
  };
}

/** Provider keys on Kysely; every query is scoped by user id. */
export class KyselyProviderKeysRepository implements ProviderKeysRepository {
  readonly #store: KyselyStore;
  /** The lookups' SQL, compiled on first use (a repository is bound to one database and table). */
  #lookups: LookupSql | undefined;

  constructor(store: KyselyStore) {
    this.#store = store;
  }

  get(userId: string, provider: string): Promise<ProviderKeyRow | undefined> {
    return this.#lookup('get', userId, provider, toRow);
  }

  /**
   * The hot path of `keyVault.withKey`: five columns instead of twelve, by SQL built once
   * per repository and run as a precompiled query (no Kysely builder or compiler per
   * call); on byok's own SQLite, synchronously on the idle connection as one raw row.
   */
  getForUse(userId: string, provider: string): Promise<ProviderKeyForUse | undefined> {
    const { db, tables } = this.#store;
    const sql = (this.#lookups ??= compileLookups(db, tables.providerKeys)).forUse;
    try {
      const row = this.#store.readRowNow(sql, [userId, provider]);
      if (row !== undefined) return Promise.resolve(row === null ? undefined : forUseFromValues(row));
    } catch {
      // fall through: the Kysely path maps the error
    }
    return this.#lookup('forUse', userId, provider, toForUse);
  }

  #lookup<T>(which: keyof LookupSql, userId: string, provider: string, map: (row: DbRow) => T): Promise<T | undefined> {
    const { db, tables } = this.#store;
    const sql = (this.#lookups ??= compileLookups(db, tables.providerKeys))[which];
    const params = [userId, provider];
    try {
      const now = this.#store.readNow(sql, params) as DbRow[] | undefined;
      if (now) return Promise.resolve(now[0] ? map(now[0]) : undefined);
    } catch {
      // fall through: the Kysely path maps the error
    }
    return this.#store.guard(async () => {
      const { rows } = await db.executeQuery<DbRow>(CompiledQuery.raw(sql, params));
      return rows[0] ? map(rows[0]) : undefined;
    });
  }

  list(userId: string): Promise<ProviderKeyRow[]> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const rows = await db.selectFrom(tables.providerKeys).selectAll().where('user_id', '=', userId).orderBy('provider').execute();
      return rows.map(toRow);
    });
  }

  replace(row: ProviderKeyRow): Promise<string | null> {
    return this.#store.transaction(async (tx) => {
      const store = tx as KyselyStore;
      const { db, tables } = store;
      return store.guard(async () => {
        const previous = await db
          .selectFrom(tables.providerKeys)
          .select('id')
          .where('user_id', '=', row.userId)
          .where('provider', '=', row.provider)
          .executeTakeFirst();
        if (previous) await db.deleteFrom(tables.providerKeys).where('id', '=', previous.id).where('user_id', '=', row.userId).execute();
        await db.insertInto(tables.providerKeys).values(fromRow(row)).execute();
        return previous ? (previous.id as string) : null;
      });
    });
  }

  setStatus(userId: string, id: string, patch: Pick<ProviderKeyRow, 'status' | 'statusReason' | 'validatedAt' | 'updatedAt'>): Promise<boolean> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const result = await db
        .updateTable(tables.providerKeys)
        .set({ status: patch.status, status_reason: patch.statusReason, validated_at: patch.validatedAt, updated_at: patch.updatedAt })
        .where('id', '=', id)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  delete(userId: string, provider: string): Promise<string | null> {
    return this.#store.transaction(async (tx) => {
      const store = tx as KyselyStore;
      const { db, tables } = store;
      return store.guard(async () => {
        const row = await db.selectFrom(tables.providerKeys).select('id').where('user_id', '=', userId).where('provider', '=', provider).executeTakeFirst();
        if (!row) return null;
        await db.deleteFrom(tables.providerKeys).where('id', '=', row.id).where('user_id', '=', userId).execute();
        return row.id as string;
      });
    });
  }
}

const SEALED_TABLES: Record<SealedTable, { table: (s: KyselyStore) => string; column: string; user: string | null; scope: string | null; kek: boolean }> = {
  provider_keys: { table: (s) => s.tables.providerKeys, column: 'sealed', user: 'user_id', scope: 'provider', kek: true },
  signing_keys: { table: (s) => `${s.prefix}signing_keys`, column: 'private_sealed', user: null, scope: null, kek: false },
  oauth_access_tokens: { table: (s) => `${s.prefix}oauth_tokens`, column: 'access_token_sealed', user: 'user_id', scope: null, kek: false },
  oauth_refresh_tokens: { table: (s) => `${s.prefix}oauth_tokens`, column: 'refresh_token_sealed', user: 'user_id', scope: null, kek: false },
  chat_content_keys: { table: (s) => s.tables.chatContentKeys, column: 'sealed', user: 'user_id', scope: null, kek: false },
};

/** The rewrap job's view of every sealed column (system-wide, not user-scoped: an admin job). */
export class KyselySealedRecordsRepository implements SealedRecordsRepository {
  readonly #store: KyselyStore;

  constructor(store: KyselyStore) {
    this.#store = store;
  }

  page(table: SealedTable, query: { excludeKek: string; afterId: string; limit: number }): Promise<SealedRecord[]> {
    const { db } = this.#store;
    const spec = SEALED_TABLES[table];
    return this.#store.guard(async () => {
      let q = db
        .selectFrom(spec.table(this.#store))
        .select(['id', `${spec.column} as sealed`])
        .$if(spec.user !== null, (qb) => qb.select(`${spec.user!} as user_id`))
        .$if(spec.scope !== null, (qb) => qb.select(`${spec.scope!} as scope`))
        .$if(spec.kek, (qb) => qb.select('kek'))
        .where(spec.column, 'is not', null)
        .where('id', '>', query.afterId);
      if (spec.kek) q = q.where('kek', '<>', query.excludeKek);
      const rows = await q.orderBy('id').limit(query.limit).execute();
      return rows.map((r: Record<string, unknown>) => ({
        id: r.id as string,
        userId: (r.user_id as string | undefined) ?? '',
        scope: (r.scope as string | undefined) ?? '',
        sealed: r.sealed as string,
        kek: (r.kek as string | undefined) ?? '',
      }));
    });
  }

  compareAndSet(table: SealedTable, id: string, expected: string, next: { sealed: string; kek: string }): Promise<boolean> {
    const { db } = this.#store;
    const spec = SEALED_TABLES[table];
    return this.#store.guard(async () => {
      const result = await db
        .updateTable(spec.table(this.#store))
        .set(spec.kek ? { [spec.column]: next.sealed, kek: next.kek } : { [spec.column]: next.sealed })
        .where('id', '=', id)
        .where(spec.column, '=', expected)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  countByKek(): Promise<Array<{ table: SealedTable; kek: string; count: number }>> {
    const { db } = this.#store;
    return this.#store.guard(async () => {
      const out: Array<{ table: SealedTable; kek: string; count: number }> = [];
      for (const table of LABELLED_SEALED_TABLES) {
        const rows = await db
          .selectFrom(SEALED_TABLES[table].table(this.#store))
          .select(['kek', (eb) => eb.fn.countAll().as('n')])
          .groupBy('kek')
          .orderBy('kek')
          .execute();
        for (const r of rows) out.push({ table, kek: r.kek as string, count: num(r.n) });
      }
      return out;
    });
  }
}

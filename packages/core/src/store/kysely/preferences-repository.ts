import type { PreferencesRepository, PreferencesRow } from '../store';
import type { KyselyStore } from './kysely-store';
import { fromPreferencesRow, toPreferencesRow } from './tables';

/** One preferences row per user on Kysely; `put` is an upsert. */
export class KyselyPreferencesRepository implements PreferencesRepository {
  readonly #store: KyselyStore;

  constructor(store: KyselyStore) {
    this.#store = store;
  }

  get(userId: string): Promise<PreferencesRow | undefined> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const row = await db.selectFrom(tables.userPreferences).selectAll().where('user_id', '=', userId).executeTakeFirst();
      return row ? toPreferencesRow(row) : undefined;
    });
  }

  put(row: PreferencesRow): Promise<void> {
    const { db, tables, sqlDialect } = this.#store;
    const values = fromPreferencesRow(row);
    const { user_id: _key, ...update } = values;
    return this.#store.guard(async () => {
      const insert = db.insertInto(tables.userPreferences).values(values);
      await (sqlDialect === 'mysql'
        ? insert.onDuplicateKeyUpdate(update)
        : insert.onConflict((oc) => oc.column('user_id').doUpdateSet(update))
      ).execute();
    });
  }
}

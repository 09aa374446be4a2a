import { ByokError } from '../../errors';
import type { ChatContentKeyRow, ChatContentKeysRepository } from '../chat-content-keys-repository';
import { insertIgnore } from './insert-ignore';
import type { KyselyStore } from './kysely-store';
import { num } from './tables';

type DbRow = Record<string, unknown>;

function toRow(r: DbRow): ChatContentKeyRow {
  return { id: r.id as string, userId: r.user_id as string, sealed: r.sealed as string, createdAt: num(r.created_at) };
}

/** The per-user chat content keys on Kysely: unique per user, inserted without a race. */
export class KyselyChatContentKeysRepository implements ChatContentKeysRepository {
  readonly #store: KyselyStore;

  constructor(store: KyselyStore) {
    this.#store = store;
  }

  get(userId: string): Promise<ChatContentKeyRow | undefined> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const row = await db.selectFrom(tables.chatContentKeys).selectAll().where('user_id', '=', userId).executeTakeFirst();
      return row ? toRow(row) : undefined;
    });
  }

  insertIfAbsent(row: ChatContentKeyRow): Promise<ChatContentKeyRow> {
    const { db, tables, sqlDialect } = this.#store;
    return this.#store.guard(async () => {
      const user = await db.selectFrom(tables.users).select('id').where('id', '=', row.userId).executeTakeFirst();
      if (!user) throw new ByokError('not_found', 'The referenced record does not exist');
      await insertIgnore(db, sqlDialect, tables.chatContentKeys, 'user_id', { id: row.id, user_id: row.userId, sealed: row.sealed, created_at: row.createdAt });
      const stored = await db.selectFrom(tables.chatContentKeys).selectAll().where('user_id', '=', row.userId).executeTakeFirst();
      if (!stored) throw new ByokError('not_found', 'The referenced record does not exist');
      return toRow(stored);
    });
  }

  delete(userId: string): Promise<boolean> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const result = await db.deleteFrom(tables.chatContentKeys).where('user_id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }
}

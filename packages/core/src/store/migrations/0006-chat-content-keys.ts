import { sql } from 'kysely';
import type { Migration } from './migration';

/**
 * Sealed chat content (`memory.sealContent`, DESIGN §6): one data key per user, sealed by
 * the vault, deleted with the user. A sealed title is longer than 200 characters, so the
 * session title becomes unbounded text (SQLite does not enforce the bound anyway).
 */
export const chatContentKeys: Migration = {
  name: '0006-chat-content-keys',
  async up({ createTable, table, types: t, db, dialect }) {
    await createTable('chat_content_keys')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('user_id', t.id, (c) => c.notNull().unique().references(`${table('users')}.id`).onDelete('cascade'))
      .addColumn('sealed', t.text, (c) => c.notNull())
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .execute();
    if (dialect === 'postgres') await sql`alter table ${sql.table(table('chat_sessions'))} alter column title type text`.execute(db);
    if (dialect === 'mysql') await sql`alter table ${sql.table(table('chat_sessions'))} modify title text`.execute(db);
  },
};

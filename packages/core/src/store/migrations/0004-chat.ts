import type { Migration } from './migration';

/**
 * Chat memory (DESIGN §3, §6): sessions, and their messages as a tree read as a path.
 * `seq` is allocated per session from `chat_sessions.last_seq` in the insert's
 * transaction; `(session_id, seq)` and `(session_id, client_message_id)` are unique.
 * Messages cascade with their session, sessions with their user.
 */
export const chat: Migration = {
  name: '0004-chat',
  async up({ createTable, table, types: t, db }) {
    await createTable('chat_sessions')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('user_id', t.id, (c) => c.notNull().references(`${table('users')}.id`).onDelete('cascade'))
      .addColumn('title', t.varchar(200))
      .addColumn('provider', t.varchar(64), (c) => c.notNull())
      .addColumn('model', t.varchar(200), (c) => c.notNull())
      .addColumn('system_prompt', t.text)
      .addColumn('active_leaf_id', t.id)
      .addColumn('last_seq', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('input_tokens', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('output_tokens', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('reasoning_tokens', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('cached_input_tokens', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .addColumn('updated_at', t.bigint, (c) => c.notNull())
      .execute();
    // The session list: keyset on (updated_at desc, id desc) per user.
    await db.schema
      .createIndex(`${table('chat_sessions')}_user_updated_idx`)
      .on(table('chat_sessions'))
      .columns(['user_id', 'updated_at', 'id'])
      .execute();

    await createTable('chat_messages')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('session_id', t.id, (c) => c.notNull().references(`${table('chat_sessions')}.id`).onDelete('cascade'))
      .addColumn('user_id', t.id, (c) => c.notNull())
      .addColumn('parent_id', t.id)
      .addColumn('seq', t.bigint, (c) => c.notNull())
      .addColumn('role', t.varchar(16), (c) => c.notNull())
      .addColumn('text', t.text, (c) => c.notNull())
      .addColumn('parts', t.text, (c) => c.notNull())
      .addColumn('status', t.varchar(16), (c) => c.notNull())
      .addColumn('error_code', t.varchar(64))
      .addColumn('client_message_id', t.varchar(128))
      .addColumn('input_hash', t.varchar(64))
      .addColumn('run_id', t.id)
      .addColumn('lease_expires_at', t.bigint)
      .addColumn('stop_requested_at', t.bigint)
      .addColumn('usage', t.text)
      .addColumn('input_tokens', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('output_tokens', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('reasoning_tokens', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('cached_input_tokens', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('token_estimate', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .addColumn('updated_at', t.bigint, (c) => c.notNull())
      .addUniqueConstraint(`${table('chat_messages')}_session_seq_uq`, ['session_id', 'seq'])
      .addUniqueConstraint(`${table('chat_messages')}_session_client_uq`, ['session_id', 'client_message_id'])
      .execute();
    // Children of a message (branches, siblings) and the path walk.
    await db.schema
      .createIndex(`${table('chat_messages')}_parent_idx`)
      .on(table('chat_messages'))
      .columns(['session_id', 'parent_id', 'seq'])
      .execute();
    // Recovery sweeps of streaming replies whose lease expired.
    await db.schema
      .createIndex(`${table('chat_messages')}_lease_idx`)
      .on(table('chat_messages'))
      .columns(['status', 'lease_expires_at'])
      .execute();
    // Usage over a time range per user.
    await db.schema
      .createIndex(`${table('chat_messages')}_user_created_idx`)
      .on(table('chat_messages'))
      .columns(['user_id', 'created_at'])
      .execute();
  },
};

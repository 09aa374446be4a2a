import type { Migration } from './migration';

/**
 * Chat retention (DESIGN §6): the purge lists sessions of every user by last activity,
 * oldest first (`updated_at < cutoff`, keyset on `(updated_at, id)`), which the per-user
 * list index `(user_id, updated_at, id)` cannot serve.
 */
export const chatRetention: Migration = {
  name: '0005-chat-retention',
  async up({ table, db }) {
    await db.schema
      .createIndex(`${table('chat_sessions')}_updated_idx`)
      .on(table('chat_sessions'))
      .columns(['updated_at', 'id'])
      .execute();
  },
};

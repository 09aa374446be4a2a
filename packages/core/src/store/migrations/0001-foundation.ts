import type { Migration } from './migration';

/**
 * Users, their OIDC identities and preferences, and the audit trail (DESIGN §3).
 * Foreign keys to users cascade; audit tables deliberately have none to users: audit rows
 * outlive the user, and erasure removes only `audit_personal` rows and the salt.
 */
export const foundation: Migration = {
  name: '0001-foundation',
  async up({ createTable, table, types: t, db }) {
    await createTable('users')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('email', t.varchar(320))
      .addColumn('email_verified', t.boolean, (c) => c.notNull())
      .addColumn('name', t.text)
      .addColumn('picture_url', t.text)
      .addColumn('custom', t.text)
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .addColumn('updated_at', t.bigint, (c) => c.notNull())
      .execute();

    await createTable('identities')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('user_id', t.id, (c) => c.notNull().references(`${table('users')}.id`).onDelete('cascade'))
      .addColumn('issuer', t.varchar(255), (c) => c.notNull())
      .addColumn('subject', t.varchar(255), (c) => c.notNull())
      .addColumn('email', t.varchar(320))
      .addColumn('email_verified', t.boolean, (c) => c.notNull())
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .addColumn('last_login_at', t.bigint, (c) => c.notNull())
      .addUniqueConstraint(`${table('identities')}_issuer_subject_uq`, ['issuer', 'subject'])
      .execute();
    await db.schema.createIndex(`${table('identities')}_user_idx`).on(table('identities')).columns(['user_id', 'id']).execute();

    await createTable('user_preferences')
      .addColumn('user_id', t.id, (c) => c.primaryKey().references(`${table('users')}.id`).onDelete('cascade'))
      .addColumn('theme', t.varchar(16), (c) => c.notNull())
      .addColumn('language', t.varchar(64), (c) => c.notNull())
      .addColumn('timezone', t.varchar(64), (c) => c.notNull())
      .addColumn('updated_at', t.bigint, (c) => c.notNull())
      .execute();

    await createTable('audit_log')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('chain', t.varchar(64), (c) => c.notNull())
      .addColumn('seq', t.bigint, (c) => c.notNull())
      .addColumn('prev_hash', t.varchar(128), (c) => c.notNull())
      .addColumn('hash', t.varchar(128), (c) => c.notNull())
      .addColumn('at', t.bigint, (c) => c.notNull())
      .addColumn('actor_user_id', t.id)
      .addColumn('action', t.varchar(64), (c) => c.notNull())
      .addColumn('target', t.text)
      .addColumn('outcome', t.varchar(16), (c) => c.notNull())
      .addColumn('metadata', t.text, (c) => c.notNull())
      .addColumn('personal_hmac', t.varchar(128))
      .addUniqueConstraint(`${table('audit_log')}_chain_seq_uq`, ['chain', 'seq'])
      .execute();
    // list(): newest first within a chain, optionally by action or time.
    await db.schema.createIndex(`${table('audit_log')}_chain_action_idx`).on(table('audit_log')).columns(['chain', 'action', 'seq']).execute();
    await db.schema.createIndex(`${table('audit_log')}_chain_at_idx`).on(table('audit_log')).columns(['chain', 'at']).execute();
    // eraseUser(): rows where the user acted on another chain.
    await db.schema.createIndex(`${table('audit_log')}_actor_idx`).on(table('audit_log')).columns(['actor_user_id']).execute();

    await createTable('audit_heads')
      .addColumn('chain', t.varchar(64), (c) => c.primaryKey())
      .addColumn('last_seq', t.bigint, (c) => c.notNull())
      .addColumn('last_hash', t.varchar(128), (c) => c.notNull())
      .execute();

    await createTable('audit_personal')
      .addColumn('audit_id', t.id, (c) => c.primaryKey().references(`${table('audit_log')}.id`).onDelete('cascade'))
      .addColumn('ip', t.varchar(64))
      .addColumn('user_agent', t.text)
      .execute();

    await createTable('audit_salts')
      .addColumn('user_id', t.varchar(64), (c) => c.primaryKey())
      .addColumn('salt', t.varchar(128), (c) => c.notNull())
      .execute();
  },
};

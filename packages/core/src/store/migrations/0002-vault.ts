import type { Migration } from './migration';

/**
 * Users' sealed model API keys (DESIGN §4). One key per user and provider; `kek` names
 * the key-encryption key of each value so `byok kms status` and `byok kms rewrap` find
 * what is under an old version without opening anything.
 */
export const vault: Migration = {
  name: '0002-vault',
  async up({ createTable, table, types: t, db }) {
    await createTable('provider_keys')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('user_id', t.id, (c) => c.notNull().references(`${table('users')}.id`).onDelete('cascade'))
      .addColumn('provider', t.varchar(32), (c) => c.notNull())
      .addColumn('sealed', t.text, (c) => c.notNull())
      .addColumn('kek', t.varchar(255), (c) => c.notNull())
      .addColumn('last4', t.varchar(8), (c) => c.notNull())
      .addColumn('fingerprint', t.varchar(64), (c) => c.notNull())
      .addColumn('status', t.varchar(16), (c) => c.notNull())
      .addColumn('status_reason', t.text)
      .addColumn('validated_at', t.bigint)
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .addColumn('updated_at', t.bigint, (c) => c.notNull())
      .addUniqueConstraint(`${table('provider_keys')}_user_provider_uq`, ['user_id', 'provider'])
      .execute();
    // rewrap / status: rows not under the primary KEK, in id order.
    await db.schema.createIndex(`${table('provider_keys')}_kek_idx`).on(table('provider_keys')).columns(['kek', 'id']).execute();
  },
};

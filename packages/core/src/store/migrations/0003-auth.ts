import type { Migration } from './migration';

/**
 * The auth capability's tables (DESIGN §3, §5): refresh-token sessions (only the SHA-256
 * of each secret), access-token signing keys (private part sealed by the vault) and the
 * issuers' OAuth tokens (sealed by the vault). Rows of a user cascade with the user.
 */
export const auth: Migration = {
  name: '0003-auth',
  async up({ createTable, table, types: t, db }) {
    await createTable('auth_sessions')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('user_id', t.id, (c) => c.notNull().references(`${table('users')}.id`).onDelete('cascade'))
      .addColumn('refresh_hash', t.varchar(64), (c) => c.notNull())
      .addColumn('family_id', t.id, (c) => c.notNull())
      .addColumn('parent_id', t.id)
      .addColumn('issuer', t.varchar(255))
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .addColumn('expires_at', t.bigint, (c) => c.notNull())
      .addColumn('rotated_at', t.bigint)
      .addColumn('revoked_at', t.bigint)
      .addColumn('last_used_at', t.bigint, (c) => c.notNull())
      .addColumn('user_agent', t.varchar(512))
      .addColumn('ip', t.varchar(64))
      .execute();
    // Family revocation and head lookup; the user's device list; expiry sweeps.
    await db.schema.createIndex(`${table('auth_sessions')}_family_idx`).on(table('auth_sessions')).columns(['user_id', 'family_id']).execute();
    await db.schema
      .createIndex(`${table('auth_sessions')}_user_used_idx`)
      .on(table('auth_sessions'))
      .columns(['user_id', 'last_used_at', 'id'])
      .execute();
    await db.schema.createIndex(`${table('auth_sessions')}_expires_idx`).on(table('auth_sessions')).columns(['expires_at']).execute();

    await createTable('signing_keys')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('alg', t.varchar(16), (c) => c.notNull())
      .addColumn('public_jwk', t.text)
      .addColumn('private_sealed', t.text, (c) => c.notNull())
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .addColumn('not_before', t.bigint, (c) => c.notNull())
      .addColumn('retired_at', t.bigint)
      .execute();

    await createTable('oauth_tokens')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('user_id', t.id, (c) => c.notNull().references(`${table('users')}.id`).onDelete('cascade'))
      .addColumn('issuer', t.varchar(255), (c) => c.notNull())
      .addColumn('access_token_sealed', t.text)
      .addColumn('refresh_token_sealed', t.text)
      .addColumn('expires_at', t.bigint)
      .addColumn('created_at', t.bigint, (c) => c.notNull())
      .addColumn('updated_at', t.bigint, (c) => c.notNull())
      .addUniqueConstraint(`${table('oauth_tokens')}_user_issuer_uq`, ['user_id', 'issuer'])
      .execute();
  },
};

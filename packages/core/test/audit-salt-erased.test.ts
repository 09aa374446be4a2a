import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditService } from '@byok/core/audit';
import { createStore, type Store } from '@byok/core/store';
import { createTestDatabase, selectTestBackends, type TestDatabase } from '@byok/testing';
import { Pool } from 'pg';

// A user's audit salt erased (the user deleted) between the salt's insert and its read-back:
// an audit record for that user is `not_found`, not an internal error. The fuzz found it on
// MariaDB as an export racing `DELETE /me` (a 500); here a PostgreSQL trigger that deletes
// the salt as soon as it is inserted makes the race happen every time.
describe.each(selectTestBackends(['postgres'] as const))('an audit salt erased while it is made, on %s', (kind) => {
  let db: TestDatabase;
  let store: Store;
  let admin: Pool;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    store = await createStore({ database: db.config });
    admin = new Pool({ connectionString: (db.config as { postgres: string }).postgres });
    await admin.query(`create function byok_test_erase_salt() returns trigger language plpgsql as $$ begin delete from byok_audit_salts where user_id = new.user_id; return null; end $$`);
    await admin.query(`create trigger byok_test_erase_salt after insert on byok_audit_salts for each row when (new.user_id like 'erased-%') execute function byok_test_erase_salt()`);
  });
  afterAll(async () => {
    await admin?.end();
    await store?.close();
    await db?.drop();
  });

  it('refuses with not_found and records nothing', async () => {
    await expect(store.audit.salt('erased-user')).rejects.toMatchObject({ code: 'not_found' });
    const audit = new AuditService({ store });
    await expect(audit.record({ actorUserId: 'erased-user', action: 'user.exported', ip: '203.0.113.7', userAgent: 'test' })).rejects.toMatchObject({ code: 'not_found' });
    expect((await admin.query(`select count(*)::int as n from byok_audit_log where chain = 'user:erased-user'`)).rows[0].n).toBe(0);
    // A user whose salt stays gets one, as before.
    expect(await store.audit.salt('kept-user')).toMatch(/^[0-9a-f]{64}$/);
  });
});

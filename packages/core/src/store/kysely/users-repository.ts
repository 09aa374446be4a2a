import { ByokError } from '../../errors';
import type { IdentityRow, UserPatch, UserRow, UsersRepository } from '../store';
import { insertIgnore } from './insert-ignore';
import type { KyselyStore } from './kysely-store';
import { flag, fromIdentityRow, fromUserRow, toIdentityRow, toUserRow } from './tables';

const IDENTITY_COLUMNS = ['id', 'user_id', 'issuer', 'subject', 'email', 'email_verified', 'created_at', 'last_login_at'];

/** Users and their OIDC identities on Kysely. */
export class KyselyUsersRepository implements UsersRepository {
  readonly #store: KyselyStore;

  constructor(store: KyselyStore) {
    this.#store = store;
  }

  findByIdentity(issuer: string, subject: string): Promise<{ user: UserRow; identity: IdentityRow } | undefined> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const identity = await db
        .selectFrom(tables.identities)
        .selectAll()
        .where('issuer', '=', issuer)
        .where('subject', '=', subject)
        .executeTakeFirst();
      if (!identity) return undefined;
      const user = await db.selectFrom(tables.users).selectAll().where('id', '=', identity.user_id).executeTakeFirst();
      return user ? { user: toUserRow(user), identity: toIdentityRow(identity) } : undefined;
    });
  }

  findByVerifiedEmail(email: string): Promise<UserRow[]> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const rows = await db
        .selectFrom(tables.users)
        .selectAll()
        .where((eb) => eb(eb.fn('lower', ['email']), '=', email.trim().toLowerCase()))
        .where('email_verified', '=', flag(true))
        .orderBy('id')
        .limit(2)
        .execute();
      return rows.map(toUserRow);
    });
  }

  createWithIdentity(user: UserRow, identity: IdentityRow): Promise<void> {
    if (identity.userId !== user.id) {
      return Promise.reject(new ByokError('bad_request', 'The identity must belong to the user being created'));
    }
    return this.#store.transaction(async (tx) => {
      const store = tx as KyselyStore;
      if (!(await insertIgnore(store.db, store.sqlDialect, store.tables.users, 'id', fromUserRow(user)))) {
        throw new ByokError('conflict', 'The record already exists');
      }
      const inserted = await insertIgnore(store.db, store.sqlDialect, store.tables.identities, ['issuer', 'subject'], fromIdentityRow(identity));
      if (!inserted) {
        // Keep an enclosing transaction usable: undo our own insert rather than abort it.
        await store.db.deleteFrom(store.tables.users).where('id', '=', user.id).execute();
        throw identityTaken();
      }
    });
  }

  get(userId: string): Promise<UserRow | undefined> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const row = await db.selectFrom(tables.users).selectAll().where('id', '=', userId).executeTakeFirst();
      return row ? toUserRow(row) : undefined;
    });
  }

  update(userId: string, patch: UserPatch): Promise<UserRow | undefined> {
    const set: Record<string, unknown> = { updated_at: patch.updatedAt };
    if (patch.email !== undefined) set.email = patch.email;
    if (patch.emailVerified !== undefined) set.email_verified = flag(patch.emailVerified);
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.pictureUrl !== undefined) set.picture_url = patch.pictureUrl;
    if (patch.custom !== undefined) set.custom = patch.custom;
    return this.#store.transaction(async (tx) => {
      const store = tx as KyselyStore;
      const result = await store.db.updateTable(store.tables.users).set(set).where('id', '=', userId).executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return undefined;
      const row = await store.db.selectFrom(store.tables.users).selectAll().where('id', '=', userId).executeTakeFirst();
      return row ? toUserRow(row) : undefined;
    });
  }

  addIdentity(userId: string, identity: IdentityRow): Promise<void> {
    const { db, tables, sqlDialect } = this.#store;
    return this.#store.guard(async () => {
      const inserted = await insertIgnore(db, sqlDialect, tables.identities, ['issuer', 'subject'], fromIdentityRow({ ...identity, userId }));
      if (!inserted) throw identityTaken();
    });
  }

  listIdentities(userId: string): Promise<IdentityRow[]> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const rows = await db
        .selectFrom(tables.identities)
        .select(IDENTITY_COLUMNS)
        .where('user_id', '=', userId)
        .orderBy('id')
        .execute();
      return rows.map(toIdentityRow);
    });
  }

  touchIdentity(
    userId: string,
    identityId: string,
    patch: { email: string | null; emailVerified: boolean; lastLoginAt: number },
  ): Promise<boolean> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const result = await db
        .updateTable(tables.identities)
        .set({ email: patch.email, email_verified: flag(patch.emailVerified), last_login_at: patch.lastLoginAt })
        .where('id', '=', identityId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  delete(userId: string): Promise<boolean> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const result = await db.deleteFrom(tables.users).where('id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }
}

function identityTaken(): ByokError {
  return new ByokError('conflict', 'This identity is already linked to a user');
}

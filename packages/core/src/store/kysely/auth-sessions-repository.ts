import type { AuthSessionRotation, AuthSessionRow, AuthSessionsRepository } from '../auth-repositories';
import { fromAuthSessionRow, num, toAuthSessionRow } from './auth-rows';
import type { KyselyStore } from './kysely-store';

/** Refresh-token sessions on Kysely (`<prefix>auth_sessions`). */
export class KyselyAuthSessionsRepository implements AuthSessionsRepository {
  readonly #store: KyselyStore;

  constructor(store: KyselyStore) {
    this.#store = store;
  }

  get #table(): string {
    return `${this.#store.prefix}auth_sessions`;
  }

  insert(row: AuthSessionRow): Promise<void> {
    return this.#store.guard(async () => {
      await this.#store.db.insertInto(this.#table).values(fromAuthSessionRow(row)).execute();
    });
  }

  findById(id: string): Promise<AuthSessionRow | undefined> {
    return this.#store.guard(async () => {
      const row = await this.#store.db.selectFrom(this.#table).selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toAuthSessionRow(row) : undefined;
    });
  }

  rotate(id: string, refreshHash: string, next: AuthSessionRow, now: number): Promise<AuthSessionRotation> {
    const table = this.#table;
    return this.#store.transaction(async (tx) => {
      const { db } = tx as KyselyStore;
      const result = await db
        .updateTable(table)
        .set({ rotated_at: now, last_used_at: now })
        .where('id', '=', id)
        .where('refresh_hash', '=', refreshHash)
        .where('rotated_at', 'is', null)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return { ok: false } as const;
      await db.insertInto(table).values(fromAuthSessionRow(next)).execute();
      return { ok: true } as const;
    });
  }

  familyHead(userId: string, familyId: string): Promise<AuthSessionRow | undefined> {
    return this.#store.guard(async () => {
      const row = await this.#store.db
        .selectFrom(this.#table)
        .selectAll()
        .where('user_id', '=', userId)
        .where('family_id', '=', familyId)
        .where('rotated_at', 'is', null)
        .where('revoked_at', 'is', null)
        .orderBy('id', 'desc')
        .executeTakeFirst();
      return row ? toAuthSessionRow(row) : undefined;
    });
  }

  revokeFamily(userId: string, familyId: string, now: number): Promise<number> {
    return this.#store.guard(async () => {
      const result = await this.#store.db
        .updateTable(this.#table)
        .set({ revoked_at: now })
        .where('user_id', '=', userId)
        .where('family_id', '=', familyId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    });
  }

  revokeAllForUser(userId: string, now: number): Promise<number> {
    return this.#store.guard(async () => {
      const result = await this.#store.db
        .updateTable(this.#table)
        .set({ revoked_at: now })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    });
  }

  listActive(userId: string, now: number): Promise<AuthSessionRow[]> {
    return this.#store.guard(async () => {
      const rows = await this.#store.db
        .selectFrom(this.#table)
        .selectAll()
        .where('user_id', '=', userId)
        .where('rotated_at', 'is', null)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', now)
        .orderBy('last_used_at', 'desc')
        .orderBy('id', 'desc')
        .limit(500)
        .execute();
      return rows.map(toAuthSessionRow);
    });
  }

  deleteExpired(before: number): Promise<number> {
    return this.#store.guard(async () => {
      const result = await this.#store.db.deleteFrom(this.#table).where('expires_at', '<', before).executeTakeFirst();
      return num(result.numDeletedRows);
    });
  }
}

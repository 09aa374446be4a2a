import type { OAuthTokenRow, OAuthTokensRepository } from '../auth-repositories';
import { toOAuthTokenRow } from './auth-rows';
import type { KyselyStore } from './kysely-store';

/** The issuers' sealed tokens on Kysely (`<prefix>oauth_tokens`), one row per user and issuer. */
export class KyselyOAuthTokensRepository implements OAuthTokensRepository {
  readonly #store: KyselyStore;

  constructor(store: KyselyStore) {
    this.#store = store;
  }

  get #table(): string {
    return `${this.#store.prefix}oauth_tokens`;
  }

  put(row: OAuthTokenRow): Promise<void> {
    const table = this.#table;
    return this.#store.transaction(async (tx) => {
      const { db } = tx as KyselyStore;
      await db.deleteFrom(table).where('user_id', '=', row.userId).where('issuer', '=', row.issuer).execute();
      await db
        .insertInto(table)
        .values({
          id: row.id,
          user_id: row.userId,
          issuer: row.issuer,
          access_token_sealed: row.accessTokenSealed,
          refresh_token_sealed: row.refreshTokenSealed,
          expires_at: row.expiresAt,
          created_at: row.createdAt,
          updated_at: row.updatedAt,
        })
        .execute();
    });
  }

  get(userId: string, issuer: string): Promise<OAuthTokenRow | undefined> {
    return this.#store.guard(async () => {
      const row = await this.#store.db
        .selectFrom(this.#table)
        .selectAll()
        .where('user_id', '=', userId)
        .where('issuer', '=', issuer)
        .executeTakeFirst();
      return row ? toOAuthTokenRow(row) : undefined;
    });
  }

  delete(userId: string, issuer: string): Promise<boolean> {
    return this.#store.guard(async () => {
      const result = await this.#store.db.deleteFrom(this.#table).where('user_id', '=', userId).where('issuer', '=', issuer).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  deleteAll(userId: string): Promise<number> {
    return this.#store.guard(async () => {
      const result = await this.#store.db.deleteFrom(this.#table).where('user_id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }
}

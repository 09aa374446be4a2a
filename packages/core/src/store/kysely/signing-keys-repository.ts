import type { SigningKeyRow, SigningKeysRepository } from '../auth-repositories';
import { toSigningKeyRow } from './auth-rows';
import type { KyselyStore } from './kysely-store';

/** Sealed signing keys on Kysely (`<prefix>signing_keys`). */
export class KyselySigningKeysRepository implements SigningKeysRepository {
  readonly #store: KyselyStore;

  constructor(store: KyselyStore) {
    this.#store = store;
  }

  get #table(): string {
    return `${this.#store.prefix}signing_keys`;
  }

  list(): Promise<SigningKeyRow[]> {
    return this.#store.guard(async () => {
      const rows = await this.#store.db.selectFrom(this.#table).selectAll().orderBy('created_at').orderBy('id').execute();
      return rows.map(toSigningKeyRow);
    });
  }

  insert(row: SigningKeyRow): Promise<void> {
    return this.#store.guard(async () => {
      await this.#store.db
        .insertInto(this.#table)
        .values({
          id: row.id,
          alg: row.alg,
          public_jwk: row.publicJwk,
          private_sealed: row.privateSealed,
          created_at: row.createdAt,
          not_before: row.notBefore,
          retired_at: row.retiredAt,
        })
        .execute();
    });
  }

  retire(id: string, at: number): Promise<boolean> {
    return this.#store.guard(async () => {
      const result = await this.#store.db.updateTable(this.#table).set({ retired_at: at }).where('id', '=', id).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  delete(id: string): Promise<boolean> {
    return this.#store.guard(async () => {
      const result = await this.#store.db.deleteFrom(this.#table).where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }
}

import { ByokError } from '../../errors';
import type { OAuthTokenRow, OAuthTokensRepository } from '../auth-repositories';
import { authMemoryTables } from './auth-memory-state';
import type { MemoryStore } from './memory-store';

const keyOf = (userId: string, issuer: string) => `${userId}\n${issuer}`;

/** The issuers' sealed tokens in memory, one row per user and issuer. */
export class MemoryOAuthTokensRepository implements OAuthTokensRepository {
  readonly #store: MemoryStore;

  constructor(store: MemoryStore) {
    this.#store = store;
  }

  #rows() {
    return authMemoryTables(this.#store.state).oauthTokens;
  }

  put(row: OAuthTokenRow): Promise<void> {
    return this.#store.run((w) => {
      if (!this.#store.state.users.has(row.userId)) throw new ByokError('not_found', 'The referenced record does not exist');
      w.set(this.#rows(), keyOf(row.userId, row.issuer), { ...row });
    });
  }

  get(userId: string, issuer: string): Promise<OAuthTokenRow | undefined> {
    return this.#store.run(() => {
      const row = this.#rows().get(keyOf(userId, issuer));
      return row ? { ...row } : undefined;
    });
  }

  delete(userId: string, issuer: string): Promise<boolean> {
    return this.#store.run((w) => w.delete(this.#rows(), keyOf(userId, issuer)));
  }

  deleteAll(userId: string): Promise<number> {
    return this.#store.run((w) => {
      let count = 0;
      for (const [key, row] of [...this.#rows()]) if (row.userId === userId && w.delete(this.#rows(), key)) count++;
      return count;
    });
  }
}

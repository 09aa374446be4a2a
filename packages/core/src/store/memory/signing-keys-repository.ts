import { ByokError } from '../../errors';
import type { SigningKeyRow, SigningKeysRepository } from '../auth-repositories';
import { authMemoryTables } from './auth-memory-state';
import type { MemoryStore } from './memory-store';

/** Sealed signing keys in memory. */
export class MemorySigningKeysRepository implements SigningKeysRepository {
  readonly #store: MemoryStore;

  constructor(store: MemoryStore) {
    this.#store = store;
  }

  #rows() {
    return authMemoryTables(this.#store.state).signingKeys;
  }

  list(): Promise<SigningKeyRow[]> {
    return this.#store.run(() =>
      [...this.#rows().values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)).map((r) => ({ ...r })),
    );
  }

  insert(row: SigningKeyRow): Promise<void> {
    return this.#store.run((w) => {
      if (this.#rows().has(row.id)) throw new ByokError('conflict', 'Duplicate signing key id');
      w.set(this.#rows(), row.id, { ...row });
    });
  }

  retire(id: string, at: number): Promise<boolean> {
    return this.#store.run((w) => {
      const row = this.#rows().get(id);
      if (!row) return false;
      w.set(this.#rows(), id, { ...row, retiredAt: at });
      return true;
    });
  }

  delete(id: string): Promise<boolean> {
    return this.#store.run((w) => w.delete(this.#rows(), id));
  }
}

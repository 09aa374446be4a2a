import { ByokError } from '../../errors';
import type { PreferencesRepository, PreferencesRow } from '../store';
import type { MemoryStore } from './memory-store';

/** One preferences row per user, in memory. */
export class MemoryPreferencesRepository implements PreferencesRepository {
  readonly #store: MemoryStore;

  constructor(store: MemoryStore) {
    this.#store = store;
  }

  get(userId: string): Promise<PreferencesRow | undefined> {
    return this.#store.run(() => {
      const row = this.#store.state.preferences.get(userId);
      return row ? { ...row } : undefined;
    });
  }

  put(row: PreferencesRow): Promise<void> {
    return this.#store.run((w) => {
      const { users, preferences } = this.#store.state;
      if (!users.has(row.userId)) throw new ByokError('not_found', 'The referenced record does not exist');
      w.set(preferences, row.userId, { ...row });
    });
  }
}

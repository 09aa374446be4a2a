import { ByokError } from '../../errors';
import type { ChatContentKeyRow, ChatContentKeysRepository } from '../chat-content-keys-repository';
import type { MemoryStore } from './memory-store';

/** The per-user chat content keys in memory, keyed by user (deleted with the user). */
export class MemoryChatContentKeysRepository implements ChatContentKeysRepository {
  readonly #store: MemoryStore;

  constructor(store: MemoryStore) {
    this.#store = store;
  }

  get(userId: string): Promise<ChatContentKeyRow | undefined> {
    return this.#store.run(() => {
      const row = this.#store.state.chatContentKeys.get(userId);
      return row ? { ...row } : undefined;
    });
  }

  insertIfAbsent(row: ChatContentKeyRow): Promise<ChatContentKeyRow> {
    return this.#store.run((w) => {
      const { users, chatContentKeys } = this.#store.state;
      if (!users.has(row.userId)) throw new ByokError('not_found', 'The referenced record does not exist');
      const existing = chatContentKeys.get(row.userId);
      if (existing) return { ...existing };
      w.set(chatContentKeys, row.userId, { ...row });
      return { ...row };
    });
  }

  delete(userId: string): Promise<boolean> {
    return this.#store.run((w) => w.delete(this.#store.state.chatContentKeys, userId));
  }
}

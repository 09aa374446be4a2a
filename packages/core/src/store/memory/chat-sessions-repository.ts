import { ByokError } from '../../errors';
import type { ChatSessionListQuery, ChatSessionPatch, ChatSessionRow, ChatSessionsRepository, ChatUsageCounts } from '../chat-repositories';
import type { MemoryStore } from './memory-store';

/** A copy the caller cannot use to change the stored row. */
export function copySession(row: ChatSessionRow): ChatSessionRow {
  return { ...row, usage: { ...row.usage } };
}

/** Chat sessions in memory; deleting one deletes its messages (ON DELETE CASCADE). */
export class MemoryChatSessionsRepository implements ChatSessionsRepository {
  readonly #store: MemoryStore;

  constructor(store: MemoryStore) {
    this.#store = store;
  }

  #own(userId: string, sessionId: string): ChatSessionRow | undefined {
    const row = this.#store.state.chatSessions.get(sessionId);
    return row && row.userId === userId ? row : undefined;
  }

  insert(row: ChatSessionRow): Promise<void> {
    return this.#store.run((w) => {
      const { users, chatSessions } = this.#store.state;
      if (chatSessions.has(row.id)) throw new ByokError('conflict', 'The record already exists');
      if (!users.has(row.userId)) throw new ByokError('not_found', 'The referenced record does not exist');
      w.set(chatSessions, row.id, copySession(row));
    });
  }

  get(userId: string, sessionId: string): Promise<ChatSessionRow | undefined> {
    return this.#store.run(() => {
      const row = this.#own(userId, sessionId);
      return row ? copySession(row) : undefined;
    });
  }

  list(userId: string, query: ChatSessionListQuery): Promise<ChatSessionRow[]> {
    const after = query.after;
    return this.#store.run(() =>
      [...this.#store.state.chatSessions.values()]
        .filter((r) => r.userId === userId)
        .filter((r) => !after || r.updatedAt < after.updatedAt || (r.updatedAt === after.updatedAt && r.id < after.id))
        .sort((a, b) => b.updatedAt - a.updatedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
        .slice(0, query.limit)
        .map(copySession),
    );
  }

  update(userId: string, sessionId: string, patch: ChatSessionPatch): Promise<ChatSessionRow | undefined> {
    return this.#store.run((w) => {
      const row = this.#own(userId, sessionId);
      if (!row) return undefined;
      const next: ChatSessionRow = { ...copySession(row), updatedAt: patch.updatedAt };
      if (patch.title !== undefined) next.title = patch.title;
      if (patch.provider !== undefined) next.provider = patch.provider;
      if (patch.model !== undefined) next.model = patch.model;
      if (patch.systemPrompt !== undefined) next.systemPrompt = patch.systemPrompt;
      w.set(this.#store.state.chatSessions, sessionId, next);
      return copySession(next);
    });
  }

  setActiveLeaf(userId: string, sessionId: string, leafId: string, updatedAt: number): Promise<boolean> {
    return this.#store.run((w) => {
      const row = this.#own(userId, sessionId);
      const leaf = this.#store.state.chatMessages.get(leafId);
      if (!row || !leaf || leaf.sessionId !== sessionId || leaf.userId !== userId) return false;
      w.set(this.#store.state.chatSessions, sessionId, { ...copySession(row), activeLeafId: leafId, updatedAt });
      return true;
    });
  }

  addUsage(userId: string, sessionId: string, usage: ChatUsageCounts, updatedAt: number): Promise<boolean> {
    return this.#store.run((w) => {
      const row = this.#own(userId, sessionId);
      if (!row) return false;
      const total: ChatUsageCounts = {
        inputTokens: row.usage.inputTokens + usage.inputTokens,
        outputTokens: row.usage.outputTokens + usage.outputTokens,
        reasoningTokens: row.usage.reasoningTokens + usage.reasoningTokens,
        cachedInputTokens: row.usage.cachedInputTokens + usage.cachedInputTokens,
      };
      w.set(this.#store.state.chatSessions, sessionId, { ...row, usage: total, updatedAt });
      return true;
    });
  }

  delete(userId: string, sessionId: string): Promise<boolean> {
    return this.#store.run((w) => {
      const { chatSessions, chatMessages } = this.#store.state;
      if (!this.#own(userId, sessionId)) return false;
      for (const [id, message] of chatMessages) if (message.sessionId === sessionId) w.delete(chatMessages, id);
      w.delete(chatSessions, sessionId);
      return true;
    });
  }
}

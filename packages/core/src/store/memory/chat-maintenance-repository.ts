import type { ChatMaintenanceRepository, InactiveSession, InactiveSessionQuery } from '../chat-maintenance-repository';
import type { ChatMessageRow } from '../chat-repositories';
import type { MemoryStore } from './memory-store';

const byActivity = (a: InactiveSession, b: InactiveSession): number => a.updatedAt - b.updatedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Chat maintenance in memory: the same contract as the Kysely store, one operation at a time. */
export class MemoryChatMaintenanceRepository implements ChatMaintenanceRepository {
  readonly #store: MemoryStore;

  constructor(store: MemoryStore) {
    this.#store = store;
  }

  sessionMessages(userId: string, sessionId: string, query: { afterSeq: number; limit: number }): Promise<ChatMessageRow[]> {
    return this.#store.run(() =>
      [...this.#store.state.chatMessages.values()]
        .filter((m) => m.sessionId === sessionId && m.userId === userId && m.seq > query.afterSeq)
        .sort((a, b) => a.seq - b.seq)
        .slice(0, query.limit)
        .map((m) => ({ ...m, usageCounts: { ...m.usageCounts } })),
    );
  }

  countForUser(userId: string): Promise<{ sessions: number; messages: number }> {
    return this.#store.run(() => {
      let sessions = 0;
      let messages = 0;
      for (const s of this.#store.state.chatSessions.values()) if (s.userId === userId) sessions++;
      for (const m of this.#store.state.chatMessages.values()) if (m.userId === userId) messages++;
      return { sessions, messages };
    });
  }

  setTitleIfUntitled(userId: string, sessionId: string, title: string): Promise<boolean> {
    return this.#store.run((w) => {
      const row = this.#store.state.chatSessions.get(sessionId);
      if (!row || row.userId !== userId || row.title !== null) return false;
      w.set(this.#store.state.chatSessions, sessionId, { ...row, usage: { ...row.usage }, title });
      return true;
    });
  }

  inactiveSessions(query: InactiveSessionQuery & { limit: number; after?: { updatedAt: number; id: string } }): Promise<InactiveSession[]> {
    const after = query.after;
    return this.#store.run(() =>
      this.#inactive(query)
        .filter((s) => !after || s.updatedAt > after.updatedAt || (s.updatedAt === after.updatedAt && s.id > after.id))
        .sort(byActivity)
        .slice(0, query.limit),
    );
  }

  countInactiveSessions(query: InactiveSessionQuery): Promise<number> {
    return this.#store.run(() => this.#inactive(query).length);
  }

  deleteInactiveSessions(query: InactiveSessionQuery & { sessionIds: readonly string[] }): Promise<{ sessions: InactiveSession[]; messages: number }> {
    return this.#store.run((w) => {
      const wanted = new Set(query.sessionIds);
      const sessions = this.#inactive(query).filter((s) => wanted.has(s.id));
      const gone = new Set(sessions.map((s) => s.id));
      const { chatSessions, chatMessages } = this.#store.state;
      let messages = 0;
      for (const [id, message] of chatMessages) {
        if (!gone.has(message.sessionId)) continue;
        w.delete(chatMessages, id);
        messages++;
      }
      for (const id of gone) w.delete(chatSessions, id);
      return { sessions, messages };
    });
  }

  #inactive(query: InactiveSessionQuery): InactiveSession[] {
    const live = new Set<string>();
    for (const m of this.#store.state.chatMessages.values()) {
      if (m.status === 'streaming' && m.leaseExpiresAt !== null && m.leaseExpiresAt >= query.now) live.add(m.sessionId);
    }
    const out: InactiveSession[] = [];
    for (const s of this.#store.state.chatSessions.values()) {
      if (s.updatedAt < query.before && !live.has(s.id)) out.push({ id: s.id, userId: s.userId, updatedAt: s.updatedAt });
    }
    return out;
  }
}

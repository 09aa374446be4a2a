import { ByokError } from '../../errors';
import { assertAppendedRow } from '../chat-append-check';
import type {
  ChatMessageRow,
  ChatMessagesRepository,
  ChatPathQuery,
  ChatRunPatch,
  ChatSiblingInfo,
  ChatUsageCounts,
  ChatUsageQuery,
} from '../chat-repositories';
import { siblingInfo } from '../chat-siblings';
import type { MemoryStore } from './memory-store';

/** A copy the caller cannot use to change the stored row. */
function copyMessage(row: ChatMessageRow): ChatMessageRow {
  return { ...row, usageCounts: { ...row.usageCounts } };
}

const bySeq = (a: ChatMessageRow, b: ChatMessageRow): number => a.seq - b.seq;

/**
 * Chat messages in memory, with unique (session, seq) and (session, client message id).
 * Each operation runs under the store's mutex, so seq allocation is serial; an append
 * checks everything before its first write, so a refusal changes nothing even inside a
 * transaction.
 */
export class MemoryChatMessagesRepository implements ChatMessagesRepository {
  readonly #store: MemoryStore;

  constructor(store: MemoryStore) {
    this.#store = store;
  }

  /** The user's messages of one session (none when the session is not the user's). */
  #ofSession(userId: string, sessionId: string): ChatMessageRow[] {
    const out: ChatMessageRow[] = [];
    for (const m of this.#store.state.chatMessages.values()) if (m.sessionId === sessionId && m.userId === userId) out.push(m);
    return out;
  }

  #own(userId: string, messageId: string): ChatMessageRow | undefined {
    const row = this.#store.state.chatMessages.get(messageId);
    return row && row.userId === userId ? row : undefined;
  }

  append(
    userId: string,
    sessionId: string,
    build: (seq: number) => ChatMessageRow,
    options: { activate?: boolean } = {},
  ): Promise<ChatMessageRow | undefined> {
    return this.#store.run((w) => {
      const { chatSessions, chatMessages } = this.#store.state;
      const session = chatSessions.get(sessionId);
      if (!session || session.userId !== userId) return undefined;
      const seq = session.lastSeq + 1;
      const row = copyMessage(build(seq));
      assertAppendedRow({ userId, sessionId, seq }, row);
      if (row.parentId !== null) {
        const parent = chatMessages.get(row.parentId);
        if (!parent || parent.sessionId !== sessionId || parent.userId !== userId) {
          throw new ByokError('not_found', 'The parent message is not in this chat session');
        }
      }
      const taken =
        chatMessages.has(row.id) ||
        [...chatMessages.values()].some(
          (m) => m.sessionId === sessionId && (m.seq === seq || (row.clientMessageId !== null && m.clientMessageId === row.clientMessageId)),
        );
      if (taken) throw new ByokError('conflict', 'A message with this id or client message id already exists in the session');
      w.set(chatSessions, sessionId, {
        ...session,
        usage: { ...session.usage },
        lastSeq: seq,
        updatedAt: row.createdAt,
        activeLeafId: options.activate ? row.id : session.activeLeafId,
      });
      w.set(chatMessages, row.id, row);
      return copyMessage(row);
    });
  }

  get(userId: string, messageId: string): Promise<ChatMessageRow | undefined> {
    return this.#store.run(() => {
      const row = this.#own(userId, messageId);
      return row ? copyMessage(row) : undefined;
    });
  }

  findByClientMessageId(userId: string, sessionId: string, clientMessageId: string): Promise<ChatMessageRow | undefined> {
    return this.#store.run(() => {
      const row = this.#ofSession(userId, sessionId).find((m) => m.clientMessageId === clientMessageId);
      return row ? copyMessage(row) : undefined;
    });
  }

  children(userId: string, sessionId: string, parentId: string | null): Promise<ChatMessageRow[]> {
    return this.#store.run(() =>
      this.#ofSession(userId, sessionId)
        .filter((m) => m.parentId === parentId)
        .sort(bySeq)
        .map(copyMessage),
    );
  }

  path(userId: string, sessionId: string, query: ChatPathQuery): Promise<ChatMessageRow[]> {
    return this.#store.run(() => {
      const { chatMessages } = this.#store.state;
      const inSession = (m: ChatMessageRow | undefined): m is ChatMessageRow => m !== undefined && m.sessionId === sessionId && m.userId === userId;
      const walk: ChatMessageRow[] = [];
      let node = chatMessages.get(query.leafId);
      // Parents have lower seqs than their children; a row breaking that ends the walk.
      while (inSession(node) && (walk.length === 0 || node.seq < walk[walk.length - 1]!.seq)) {
        walk.push(node);
        node = node.parentId === null ? undefined : chatMessages.get(node.parentId);
      }
      const window = walk
        .filter((m) => (query.afterSeq === undefined || m.seq > query.afterSeq) && (query.beforeSeq === undefined || m.seq < query.beforeSeq))
        .sort(bySeq);
      const page = query.beforeSeq !== undefined ? window.slice(Math.max(0, window.length - query.limit)) : window.slice(0, query.limit);
      return page.map(copyMessage);
    });
  }

  siblings(userId: string, sessionId: string, messageIds: string[]): Promise<ChatSiblingInfo[]> {
    return this.#store.run(() => {
      const messages = this.#ofSession(userId, sessionId).sort(bySeq);
      const asked = new Set(messageIds);
      const parentOf = new Map(messages.filter((m) => asked.has(m.id)).map((m) => [m.id, m.parentId]));
      const parents = new Set(parentOf.values());
      const family = messages.filter((m) => parents.has(m.parentId)).map((m) => ({ id: m.id, parentId: m.parentId }));
      return siblingInfo(messageIds, parentOf, family);
    });
  }

  updateRun(userId: string, messageId: string, runId: string, patch: ChatRunPatch): Promise<ChatMessageRow | undefined> {
    return this.#store.run((w) => {
      const row = this.#own(userId, messageId);
      if (!row || row.runId !== runId || row.status !== 'streaming') return undefined;
      const next = copyMessage(row);
      next.updatedAt = patch.updatedAt;
      if (patch.text !== undefined) next.text = patch.text;
      if (patch.parts !== undefined) next.parts = patch.parts;
      if (patch.status !== undefined) next.status = patch.status;
      if (patch.errorCode !== undefined) next.errorCode = patch.errorCode;
      if (patch.leaseExpiresAt !== undefined) next.leaseExpiresAt = patch.leaseExpiresAt;
      if (patch.usage !== undefined) next.usage = patch.usage;
      if (patch.usageCounts !== undefined) next.usageCounts = { ...patch.usageCounts };
      if (patch.tokenEstimate !== undefined) next.tokenEstimate = patch.tokenEstimate;
      w.set(this.#store.state.chatMessages, messageId, next);
      return copyMessage(next);
    });
  }

  requestStop(userId: string, messageId: string, at: number): Promise<boolean> {
    return this.#store.run((w) => {
      const row = this.#own(userId, messageId);
      if (!row || row.status !== 'streaming') return false;
      w.set(this.#store.state.chatMessages, messageId, { ...copyMessage(row), stopRequestedAt: at });
      return true;
    });
  }

  expiredRuns(now: number, limit: number): Promise<ChatMessageRow[]> {
    return this.#store.run(() =>
      [...this.#store.state.chatMessages.values()]
        .filter((m) => m.status === 'streaming' && m.leaseExpiresAt !== null && m.leaseExpiresAt < now)
        .sort((a, b) => a.leaseExpiresAt! - b.leaseExpiresAt! || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, limit)
        .map(copyMessage),
    );
  }

  recoverRun(messageId: string, runId: string, now: number): Promise<boolean> {
    return this.#store.run((w) => {
      const row = this.#store.state.chatMessages.get(messageId);
      if (!row || row.runId !== runId || row.status !== 'streaming' || row.leaseExpiresAt === null || !(row.leaseExpiresAt < now)) return false;
      w.set(this.#store.state.chatMessages, messageId, { ...copyMessage(row), status: 'incomplete', errorCode: 'lease_expired', updatedAt: now });
      return true;
    });
  }

  usageTotals(userId: string, query: ChatUsageQuery): Promise<ChatUsageCounts & { replies: number }> {
    return this.#store.run(() => {
      const totals = { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0, replies: 0 };
      for (const m of this.#store.state.chatMessages.values()) {
        if (m.userId !== userId || m.role !== 'assistant' || m.usage === null) continue;
        if (query.sessionId !== undefined && m.sessionId !== query.sessionId) continue;
        if (query.from !== undefined && m.createdAt < query.from) continue;
        if (query.to !== undefined && m.createdAt >= query.to) continue;
        totals.inputTokens += m.usageCounts.inputTokens;
        totals.outputTokens += m.usageCounts.outputTokens;
        totals.reasoningTokens += m.usageCounts.reasoningTokens;
        totals.cachedInputTokens += m.usageCounts.cachedInputTokens;
        totals.replies += 1;
      }
      return totals;
    });
  }
}

import { sql } from 'kysely';
import type { ChatSessionListQuery, ChatSessionPatch, ChatSessionRow, ChatSessionsRepository, ChatUsageCounts } from '../chat-repositories';
import type { KyselyStore } from './kysely-store';
import { num } from './tables';

type DbRow = Record<string, unknown>;

const strOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : (value as string));

export function toChatSessionRow(r: DbRow): ChatSessionRow {
  return {
    id: r.id as string,
    userId: r.user_id as string,
    title: strOrNull(r.title),
    provider: r.provider as string,
    model: r.model as string,
    systemPrompt: strOrNull(r.system_prompt),
    activeLeafId: strOrNull(r.active_leaf_id),
    lastSeq: num(r.last_seq),
    usage: {
      inputTokens: num(r.input_tokens),
      outputTokens: num(r.output_tokens),
      reasoningTokens: num(r.reasoning_tokens),
      cachedInputTokens: num(r.cached_input_tokens),
    },
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

function fromChatSessionRow(s: ChatSessionRow): DbRow {
  return {
    id: s.id,
    user_id: s.userId,
    title: s.title,
    provider: s.provider,
    model: s.model,
    system_prompt: s.systemPrompt,
    active_leaf_id: s.activeLeafId,
    last_seq: s.lastSeq,
    input_tokens: s.usage.inputTokens,
    output_tokens: s.usage.outputTokens,
    reasoning_tokens: s.usage.reasoningTokens,
    cached_input_tokens: s.usage.cachedInputTokens,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
  };
}

/** Chat sessions on Kysely; every query is scoped by user id. */
export class KyselyChatSessionsRepository implements ChatSessionsRepository {
  readonly #store: KyselyStore;

  constructor(store: KyselyStore) {
    this.#store = store;
  }

  insert(row: ChatSessionRow): Promise<void> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      await db.insertInto(tables.chatSessions).values(fromChatSessionRow(row)).execute();
    });
  }

  get(userId: string, sessionId: string): Promise<ChatSessionRow | undefined> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const row = await db.selectFrom(tables.chatSessions).selectAll().where('id', '=', sessionId).where('user_id', '=', userId).executeTakeFirst();
      return row ? toChatSessionRow(row) : undefined;
    });
  }

  list(userId: string, query: ChatSessionListQuery): Promise<ChatSessionRow[]> {
    const { db, tables } = this.#store;
    const after = query.after;
    return this.#store.guard(async () => {
      const rows = await db
        .selectFrom(tables.chatSessions)
        .selectAll()
        .where('user_id', '=', userId)
        .$if(after !== undefined, (qb) =>
          qb.where((eb) =>
            eb.or([eb('updated_at', '<', after!.updatedAt), eb.and([eb('updated_at', '=', after!.updatedAt), eb('id', '<', after!.id)])]),
          ),
        )
        .orderBy('updated_at', 'desc')
        .orderBy('id', 'desc')
        .limit(query.limit)
        .execute();
      return rows.map(toChatSessionRow);
    });
  }

  update(userId: string, sessionId: string, patch: ChatSessionPatch): Promise<ChatSessionRow | undefined> {
    const set: DbRow = { updated_at: patch.updatedAt };
    if (patch.title !== undefined) set.title = patch.title;
    if (patch.provider !== undefined) set.provider = patch.provider;
    if (patch.model !== undefined) set.model = patch.model;
    if (patch.systemPrompt !== undefined) set.system_prompt = patch.systemPrompt;
    if (this.#store.sqlDialect !== 'mysql') {
      // One statement where the database can return the row it updated.
      const { db, tables } = this.#store;
      return this.#store.guard(async () => {
        const row = await db.updateTable(tables.chatSessions).set(set).where('id', '=', sessionId).where('user_id', '=', userId).returningAll().executeTakeFirst();
        return row ? toChatSessionRow(row) : undefined;
      });
    }
    return this.#store.transaction(async (tx) => {
      const { db, tables } = tx as KyselyStore;
      const result = await db.updateTable(tables.chatSessions).set(set).where('id', '=', sessionId).where('user_id', '=', userId).executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return undefined;
      const row = await db.selectFrom(tables.chatSessions).selectAll().where('id', '=', sessionId).where('user_id', '=', userId).executeTakeFirst();
      return row ? toChatSessionRow(row) : undefined;
    });
  }

  setActiveLeaf(userId: string, sessionId: string, leafId: string, updatedAt: number): Promise<boolean> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      // One statement: the leaf must be a message of this very session, so no other
      // session's (or user's) message can become the branch shown.
      const result = await db
        .updateTable(tables.chatSessions)
        .set({ active_leaf_id: leafId, updated_at: updatedAt })
        .where('id', '=', sessionId)
        .where('user_id', '=', userId)
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom(tables.chatMessages)
              .select(sql.lit(1).as('one'))
              .where('id', '=', leafId)
              .where('session_id', '=', sessionId)
              .where('user_id', '=', userId),
          ),
        )
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  addUsage(userId: string, sessionId: string, usage: ChatUsageCounts, updatedAt: number): Promise<boolean> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const result = await db
        .updateTable(tables.chatSessions)
        .set({
          input_tokens: sql`input_tokens + ${usage.inputTokens}`,
          output_tokens: sql`output_tokens + ${usage.outputTokens}`,
          reasoning_tokens: sql`reasoning_tokens + ${usage.reasoningTokens}`,
          cached_input_tokens: sql`cached_input_tokens + ${usage.cachedInputTokens}`,
          updated_at: updatedAt,
        })
        .where('id', '=', sessionId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  delete(userId: string, sessionId: string): Promise<boolean> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const result = await db.deleteFrom(tables.chatSessions).where('id', '=', sessionId).where('user_id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }
}

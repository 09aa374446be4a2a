import { sql, type Kysely } from 'kysely';
import { ByokError } from '../../errors';
import type {
  ChatMessageRole,
  ChatMessageRow,
  ChatMessageStatus,
  ChatMessagesRepository,
  ChatPathQuery,
  ChatRunPatch,
  ChatSiblingInfo,
  ChatUsageCounts,
  ChatUsageQuery,
} from '../chat-repositories';
import { assertAppendedRow } from '../chat-append-check';
import { siblingInfo } from '../chat-siblings';
import { isUniqueViolation } from './database-errors';
import type { KyselyStore } from './kysely-store';
import { num } from './tables';

type DbRow = Record<string, unknown>;

const strOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : (value as string));
const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : num(value));

/** A `chat_messages` row as the contract's {@link ChatMessageRow}. */
export function toChatMessageRow(r: DbRow): ChatMessageRow {
  return {
    id: r.id as string,
    sessionId: r.session_id as string,
    userId: r.user_id as string,
    parentId: strOrNull(r.parent_id),
    seq: num(r.seq),
    role: r.role as ChatMessageRole,
    text: r.text as string,
    parts: r.parts as string,
    status: r.status as ChatMessageStatus,
    errorCode: strOrNull(r.error_code),
    clientMessageId: strOrNull(r.client_message_id),
    inputHash: strOrNull(r.input_hash),
    runId: strOrNull(r.run_id),
    leaseExpiresAt: numOrNull(r.lease_expires_at),
    stopRequestedAt: numOrNull(r.stop_requested_at),
    usage: strOrNull(r.usage),
    usageCounts: {
      inputTokens: num(r.input_tokens),
      outputTokens: num(r.output_tokens),
      reasoningTokens: num(r.reasoning_tokens),
      cachedInputTokens: num(r.cached_input_tokens),
    },
    tokenEstimate: num(r.token_estimate),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

function fromChatMessageRow(m: ChatMessageRow): DbRow {
  return {
    id: m.id,
    session_id: m.sessionId,
    user_id: m.userId,
    parent_id: m.parentId,
    seq: m.seq,
    role: m.role,
    text: m.text,
    parts: m.parts,
    status: m.status,
    error_code: m.errorCode,
    client_message_id: m.clientMessageId,
    input_hash: m.inputHash,
    run_id: m.runId,
    lease_expires_at: m.leaseExpiresAt,
    stop_requested_at: m.stopRequestedAt,
    usage: m.usage,
    ...usageColumns(m.usageCounts),
    token_estimate: m.tokenEstimate,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
  };
}

function usageColumns(u: ChatUsageCounts): DbRow {
  return {
    input_tokens: u.inputTokens,
    output_tokens: u.outputTokens,
    reasoning_tokens: u.reasoningTokens,
    cached_input_tokens: u.cachedInputTokens,
  };
}

function runPatchColumns(patch: ChatRunPatch): DbRow {
  const set: DbRow = { updated_at: patch.updatedAt };
  if (patch.text !== undefined) set.text = patch.text;
  if (patch.parts !== undefined) set.parts = patch.parts;
  if (patch.status !== undefined) set.status = patch.status;
  if (patch.errorCode !== undefined) set.error_code = patch.errorCode;
  if (patch.leaseExpiresAt !== undefined) set.lease_expires_at = patch.leaseExpiresAt;
  if (patch.usage !== undefined) set.usage = patch.usage;
  if (patch.usageCounts !== undefined) Object.assign(set, usageColumns(patch.usageCounts));
  if (patch.tokenEstimate !== undefined) set.token_estimate = patch.tokenEstimate;
  return set;
}

/**
 * Chat messages on Kysely. Every query is scoped by user id (and session where the
 * contract names one), except the recovery sweep. Seq comes from the session row, under
 * its lock, in the insert's transaction.
 */
export class KyselyChatMessagesRepository implements ChatMessagesRepository {
  readonly #store: KyselyStore;

  constructor(store: KyselyStore) {
    this.#store = store;
  }

  append(
    userId: string,
    sessionId: string,
    build: (seq: number) => ChatMessageRow,
    options: { activate?: boolean } = {},
  ): Promise<ChatMessageRow | undefined> {
    if (!this.#store.inTransaction) return this.#store.transaction((tx) => tx.chatMessages.append(userId, sessionId, build, options));
    return this.#store.guard(async () => {
      const { db, tables } = this.#store;
      const seq = await this.#allocate(userId, sessionId);
      if (seq === undefined) return undefined;
      // A refusal gives the seq back before throwing (we still hold the session row, so it
      // is the last one allocated): the caller's transaction, if any, stays usable and
      // gap-free. A database error is not undone here: its transaction is rolled back.
      const refuse = async (error: unknown): Promise<never> => {
        await db
          .updateTable(tables.chatSessions)
          .set({ last_seq: sql`last_seq - 1` })
          .where('id', '=', sessionId)
          .where('last_seq', '=', seq)
          .execute();
        throw error;
      };
      let row: ChatMessageRow;
      try {
        row = { ...build(seq) };
        assertAppendedRow({ userId, sessionId, seq }, row);
      } catch (error) {
        return refuse(error);
      }
      const parentId = row.parentId;
      const noParent = () => new ByokError('not_found', 'The parent message is not in this chat session');
      if (parentId === row.id) return refuse(noParent());
      if (!(await this.#insertUnlessTaken(row))) {
        return refuse(new ByokError('conflict', 'A message with this id or client message id already exists in the session'));
      }
      // One statement moves the session and checks the parent (a message of this very
      // session and user); without one, the row just inserted goes again before the refusal.
      let touch = db
        .updateTable(tables.chatSessions)
        .set(options.activate ? { updated_at: row.createdAt, active_leaf_id: row.id } : { updated_at: row.createdAt })
        .where('id', '=', sessionId)
        .where('user_id', '=', userId);
      if (parentId !== null) {
        touch = touch.where((eb) =>
          eb.exists(eb.selectFrom(tables.chatMessages).select('id').where('id', '=', parentId).where('session_id', '=', sessionId).where('user_id', '=', userId)),
        );
      }
      const touched = await touch.executeTakeFirst();
      if (Number(touched.numUpdatedRows) === 0) {
        await db.deleteFrom(tables.chatMessages).where('id', '=', row.id).where('user_id', '=', userId).execute();
        return refuse(noParent());
      }
      return row;
    });
  }

  /** Bumps the session's last_seq (locking its row until commit) and returns the new value. */
  async #allocate(userId: string, sessionId: string): Promise<number | undefined> {
    const { db, tables, sqlDialect } = this.#store;
    const bump = db
      .updateTable(tables.chatSessions)
      .set({ last_seq: sql`last_seq + 1` })
      .where('id', '=', sessionId)
      .where('user_id', '=', userId);
    if (sqlDialect !== 'mysql') {
      const row = await bump.returning('last_seq').executeTakeFirst();
      return row ? num(row.last_seq) : undefined;
    }
    const result = await bump.executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return undefined;
    // Our own write: visible to this transaction's read under REPEATABLE READ.
    const row = await db.selectFrom(tables.chatSessions).select('last_seq').where('id', '=', sessionId).executeTakeFirstOrThrow();
    return num(row.last_seq);
  }

  /**
   * Inserts unless a unique key (id, client message id) is taken, without aborting the
   * transaction: `ON CONFLICT DO NOTHING` on PostgreSQL and SQLite; on MySQL the
   * duplicate-key error rolls back only the statement.
   */
  async #insertUnlessTaken(row: ChatMessageRow): Promise<boolean> {
    const { db, tables, sqlDialect } = this.#store;
    const insert = db.insertInto(tables.chatMessages).values(fromChatMessageRow(row));
    if (sqlDialect === 'mysql') {
      try {
        await insert.execute();
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    }
    const result = await insert.onConflict((oc) => oc.doNothing()).executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  get(userId: string, messageId: string): Promise<ChatMessageRow | undefined> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const row = await db.selectFrom(tables.chatMessages).selectAll().where('id', '=', messageId).where('user_id', '=', userId).executeTakeFirst();
      return row ? toChatMessageRow(row) : undefined;
    });
  }

  findByClientMessageId(userId: string, sessionId: string, clientMessageId: string): Promise<ChatMessageRow | undefined> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const row = await db
        .selectFrom(tables.chatMessages)
        .selectAll()
        .where('session_id', '=', sessionId)
        .where('client_message_id', '=', clientMessageId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return row ? toChatMessageRow(row) : undefined;
    });
  }

  children(userId: string, sessionId: string, parentId: string | null): Promise<ChatMessageRow[]> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const rows = await db
        .selectFrom(tables.chatMessages)
        .selectAll()
        .where('session_id', '=', sessionId)
        .where('parent_id', parentId === null ? 'is' : '=', parentId)
        .where('user_id', '=', userId)
        .orderBy('seq')
        .execute();
      return rows.map(toChatMessageRow);
    });
  }

  path(userId: string, sessionId: string, query: ChatPathQuery): Promise<ChatMessageRow[]> {
    const { db, tables } = this.#store;
    const { afterSeq, beforeSeq } = query;
    return this.#store.guard(async () => {
      // Walk from the leaf to the root over parent ids, staying in the user's session. A
      // parent always has a lower seq than its child (it was appended first), so requiring
      // it both ends the walk on a corrupted cycle and lets it stop at `afterSeq`. Reading
      // back from `beforeSeq` (the newest page, the context window), `n` counts the rows
      // found below it and the walk stops at `limit` of them, so the cost is the page's,
      // not the whole path's.
      const bounded = beforeSeq !== undefined && afterSeq === undefined;
      const below = (column: string) => (beforeSeq === undefined ? sql<number>`1` : sql<number>`case when ${sql.ref(column)} < ${beforeSeq} then 1 else 0 end`);
      const rows = await (db as Kysely<any>)
        .withRecursive('chat_path(id, parent_id, seq, n)', (qc) =>
          qc
            .selectFrom(tables.chatMessages)
            .select(['id', 'parent_id', 'seq', below('seq').as('n')])
            .where('id', '=', query.leafId)
            .where('session_id', '=', sessionId)
            .where('user_id', '=', userId)
            .unionAll((eb) =>
              eb
                .selectFrom(`${tables.chatMessages} as m`)
                .innerJoin('chat_path as p', 'p.parent_id', 'm.id')
                .select(['m.id', 'm.parent_id', 'm.seq', sql<number>`p.n + ${below('m.seq')}`.as('n')])
                .where('m.session_id', '=', sessionId)
                .where('m.user_id', '=', userId)
                .whereRef('m.seq', '<', 'p.seq')
                .$if(afterSeq !== undefined, (qb) => qb.where('m.seq', '>', afterSeq!))
                .$if(bounded, (qb) => qb.where('p.n', '<', query.limit)),
            ),
        )
        .selectFrom(`${tables.chatMessages} as m`)
        .innerJoin('chat_path as p', 'p.id', 'm.id')
        .selectAll('m')
        .$if(afterSeq !== undefined, (qb) => qb.where('m.seq', '>', afterSeq!))
        .$if(beforeSeq !== undefined, (qb) => qb.where('m.seq', '<', beforeSeq!))
        .orderBy('m.seq', beforeSeq !== undefined ? 'desc' : 'asc')
        .limit(query.limit)
        .execute();
      const page = rows.map(toChatMessageRow);
      return beforeSeq !== undefined ? page.reverse() : page;
    });
  }

  siblings(userId: string, sessionId: string, messageIds: string[]): Promise<ChatSiblingInfo[]> {
    if (messageIds.length === 0) return Promise.resolve([]);
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const scoped = () => db.selectFrom(tables.chatMessages).where('session_id', '=', sessionId).where('user_id', '=', userId);
      const targets = await scoped().select(['id', 'parent_id']).where('id', 'in', [...new Set(messageIds)]).execute();
      if (targets.length === 0) return [];
      const parentOf = new Map(targets.map((t) => [t.id as string, strOrNull(t.parent_id)]));
      const parents = [...new Set([...parentOf.values()].filter((p): p is string => p !== null))];
      const roots = [...parentOf.values()].includes(null);
      const family = await scoped()
        .select(['id', 'parent_id'])
        .where((eb) => {
          const any = [];
          if (parents.length > 0) any.push(eb('parent_id', 'in', parents));
          if (roots) any.push(eb('parent_id', 'is', null));
          return eb.or(any);
        })
        .orderBy('seq')
        .execute();
      return siblingInfo(messageIds, parentOf, family.map((r) => ({ id: r.id as string, parentId: strOrNull(r.parent_id) })));
    });
  }

  updateRun(userId: string, messageId: string, runId: string, patch: ChatRunPatch): Promise<ChatMessageRow | undefined> {
    const set = runPatchColumns(patch);
    const write = (store: KyselyStore) =>
      store.db
        .updateTable(store.tables.chatMessages)
        .set(set)
        .where('id', '=', messageId)
        .where('user_id', '=', userId)
        .where('run_id', '=', runId)
        .where('status', '=', 'streaming');
    if (this.#store.sqlDialect !== 'mysql') {
      return this.#store.guard(async () => {
        const row = await write(this.#store).returningAll().executeTakeFirst();
        return row ? toChatMessageRow(row) : undefined;
      });
    }
    // MySQL has no RETURNING: write and read back in one transaction (the row stays locked).
    return this.#store.transaction(async (tx) => {
      const store = tx as KyselyStore;
      const result = await write(store).executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return undefined;
      const row = await store.db.selectFrom(store.tables.chatMessages).selectAll().where('id', '=', messageId).where('user_id', '=', userId).executeTakeFirst();
      return row ? toChatMessageRow(row) : undefined;
    });
  }

  requestStop(userId: string, messageId: string, at: number): Promise<boolean> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const result = await db
        .updateTable(tables.chatMessages)
        .set({ stop_requested_at: at })
        .where('id', '=', messageId)
        .where('user_id', '=', userId)
        .where('status', '=', 'streaming')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  expiredRuns(now: number, limit: number): Promise<ChatMessageRow[]> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const rows = await db
        .selectFrom(tables.chatMessages)
        .selectAll()
        .where('status', '=', 'streaming')
        .where('lease_expires_at', '<', now)
        .orderBy('lease_expires_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toChatMessageRow);
    });
  }

  recoverRun(messageId: string, runId: string, now: number): Promise<boolean> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const result = await db
        .updateTable(tables.chatMessages)
        .set({ status: 'incomplete', error_code: 'lease_expired', updated_at: now })
        .where('id', '=', messageId)
        .where('run_id', '=', runId)
        .where('status', '=', 'streaming')
        .where('lease_expires_at', '<', now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  usageTotals(userId: string, query: ChatUsageQuery): Promise<ChatUsageCounts & { replies: number }> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const row = await db
        .selectFrom(tables.chatMessages)
        .select((eb) => [
          eb.fn.coalesce(eb.fn.sum('input_tokens'), sql.lit(0)).as('input_tokens'),
          eb.fn.coalesce(eb.fn.sum('output_tokens'), sql.lit(0)).as('output_tokens'),
          eb.fn.coalesce(eb.fn.sum('reasoning_tokens'), sql.lit(0)).as('reasoning_tokens'),
          eb.fn.coalesce(eb.fn.sum('cached_input_tokens'), sql.lit(0)).as('cached_input_tokens'),
          eb.fn.countAll().as('replies'),
        ])
        .where('user_id', '=', userId)
        .where('role', '=', 'assistant')
        .where('usage', 'is not', null)
        .$if(query.sessionId !== undefined, (qb) => qb.where('session_id', '=', query.sessionId!))
        .$if(query.from !== undefined, (qb) => qb.where('created_at', '>=', query.from!))
        .$if(query.to !== undefined, (qb) => qb.where('created_at', '<', query.to!))
        .executeTakeFirstOrThrow();
      return {
        inputTokens: num(row.input_tokens),
        outputTokens: num(row.output_tokens),
        reasoningTokens: num(row.reasoning_tokens),
        cachedInputTokens: num(row.cached_input_tokens),
        replies: num(row.replies),
      };
    });
  }
}

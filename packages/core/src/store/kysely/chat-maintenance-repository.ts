import { sql, type ExpressionBuilder } from 'kysely';
import type { ChatMaintenanceRepository, InactiveSession, InactiveSessionQuery } from '../chat-maintenance-repository';
import type { ChatMessageRow } from '../chat-repositories';
import { toChatMessageRow } from './chat-messages-repository';
import type { KyselyStore } from './kysely-store';
import { num } from './tables';

type DbRow = Record<string, unknown>;

function toInactiveSession(r: DbRow): InactiveSession {
  return { id: r.id as string, userId: r.user_id as string, updatedAt: num(r.updated_at) };
}

/**
 * Chat maintenance on Kysely: the export's full listing and the deletion counts (scoped by
 * user id), generated titles (a conditional update), and the retention purge (system-wide,
 * on the `(updated_at, id)` index of migration 0005).
 */
export class KyselyChatMaintenanceRepository implements ChatMaintenanceRepository {
  readonly #store: KyselyStore;

  constructor(store: KyselyStore) {
    this.#store = store;
  }

  sessionMessages(userId: string, sessionId: string, query: { afterSeq: number; limit: number }): Promise<ChatMessageRow[]> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const rows = await db
        .selectFrom(tables.chatMessages)
        .selectAll()
        .where('session_id', '=', sessionId)
        .where('user_id', '=', userId)
        .where('seq', '>', query.afterSeq)
        .orderBy('seq')
        .limit(query.limit)
        .execute();
      return rows.map(toChatMessageRow);
    });
  }

  countForUser(userId: string): Promise<{ sessions: number; messages: number }> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const sessions = await db
        .selectFrom(tables.chatSessions)
        .select((eb) => eb.fn.countAll().as('n'))
        .where('user_id', '=', userId)
        .executeTakeFirstOrThrow();
      const messages = await db
        .selectFrom(tables.chatMessages)
        .select((eb) => eb.fn.countAll().as('n'))
        .where('user_id', '=', userId)
        .executeTakeFirstOrThrow();
      return { sessions: num(sessions.n), messages: num(messages.n) };
    });
  }

  setTitleIfUntitled(userId: string, sessionId: string, title: string): Promise<boolean> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const result = await db
        .updateTable(tables.chatSessions)
        .set({ title })
        .where('id', '=', sessionId)
        .where('user_id', '=', userId)
        .where('title', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  inactiveSessions(query: InactiveSessionQuery & { limit: number; after?: { updatedAt: number; id: string } }): Promise<InactiveSession[]> {
    const { db, tables } = this.#store;
    const after = query.after;
    return this.#store.guard(async () => {
      const rows = await db
        .selectFrom(`${tables.chatSessions} as s`)
        .select(['s.id', 's.user_id', 's.updated_at'])
        .where((eb) => this.#inactive(eb, query))
        .$if(after !== undefined, (qb) =>
          qb.where((eb) =>
            eb.or([eb('s.updated_at', '>', after!.updatedAt), eb.and([eb('s.updated_at', '=', after!.updatedAt), eb('s.id', '>', after!.id)])]),
          ),
        )
        .orderBy('s.updated_at')
        .orderBy('s.id')
        .limit(query.limit)
        .execute();
      return rows.map(toInactiveSession);
    });
  }

  countInactiveSessions(query: InactiveSessionQuery): Promise<number> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const row = await db
        .selectFrom(`${tables.chatSessions} as s`)
        .select((eb) => eb.fn.countAll().as('n'))
        .where((eb) => this.#inactive(eb, query))
        .executeTakeFirstOrThrow();
      return num(row.n);
    });
  }

  deleteInactiveSessions(query: InactiveSessionQuery & { sessionIds: readonly string[] }): Promise<{ sessions: InactiveSession[]; messages: number }> {
    if (query.sessionIds.length === 0) return Promise.resolve({ sessions: [], messages: 0 });
    return this.#store.transaction(async (tx) => {
      const { db, tables, sqlDialect } = tx as KyselyStore;
      // Re-check under a row lock (SQLite: the write transaction itself): an append takes
      // the session row first (`last_seq + 1`), so it waits for this delete or sees the
      // session gone; a session that had activity since it was listed no longer matches.
      const select = db
        .selectFrom(`${tables.chatSessions} as s`)
        .select(['s.id', 's.user_id', 's.updated_at'])
        .where('s.id', 'in', [...query.sessionIds])
        .where((eb) => this.#inactive(eb, query));
      const locked = (await (sqlDialect === 'sqlite' ? select : select.forUpdate()).execute()).map(toInactiveSession);
      if (locked.length === 0) return { sessions: [], messages: 0 };
      const ids = locked.map((s) => s.id);
      const counted = await db
        .selectFrom(tables.chatMessages)
        .select((eb) => eb.fn.countAll().as('n'))
        .where('session_id', 'in', ids)
        .executeTakeFirstOrThrow();
      // Messages go by ON DELETE CASCADE with their session.
      await db.deleteFrom(tables.chatSessions).where('id', 'in', ids).execute();
      return { sessions: locked, messages: num(counted.n) };
    });
  }

  /** Last activity before `before`, and no reply streaming under a lease live at `now`. */
  #inactive(eb: ExpressionBuilder<any, any>, query: InactiveSessionQuery) {
    const { tables } = this.#store;
    return eb.and([
      eb('s.updated_at', '<', query.before),
      eb.not(
        eb.exists(
          eb
            .selectFrom(`${tables.chatMessages} as m`)
            .select(sql.lit(1).as('one'))
            .whereRef('m.session_id', '=', 's.id')
            .where('m.status', '=', 'streaming')
            .where('m.lease_expires_at', '>=', query.now),
        ),
      ),
    ]);
  }
}

import type { ChatMessageRow } from './chat-repositories';

/**
 * Chat rows read or written outside a chat turn, by byok's own jobs (DESIGN §6): a user's
 * data export (every message of a session, all branches), the deletion audit's counts,
 * generated titles, and the retention purge. Implemented by the Kysely store
 * (`store/kysely/chat-maintenance-repository.ts`) and the in-memory store
 * (`store/memory/chat-maintenance-repository.ts`).
 *
 * The user-facing methods take the owning `userId` first and scope by it: another user's
 * session is an empty list / `false`, exactly like a missing one. Only the retention
 * methods are system-wide.
 */
export interface ChatMaintenanceRepository {
  /**
   * Every message of the user's session, every branch, in seq order: those with seq above
   * `afterSeq` (0 for the start), at most `limit`. [] when the session is not the user's.
   */
  sessionMessages(userId: string, sessionId: string, query: { afterSeq: number; limit: number }): Promise<ChatMessageRow[]>;
  /** How many chat sessions and messages the user has. */
  countForUser(userId: string): Promise<{ sessions: number; messages: number }>;
  /**
   * Sets a generated title only where the session is the user's and still has none
   * (`WHERE id = ? AND user_id = ? AND title IS NULL`, one statement), so a rename in the
   * meantime wins. Never moves `updatedAt` (a title is not activity). True when it was set.
   */
  setTitleIfUntitled(userId: string, sessionId: string, title: string): Promise<boolean>;
  /**
   * Retention, system-wide: sessions whose last activity (`updatedAt`) is before `before`
   * and in which no reply is streaming under a lease still live at `now`, oldest activity
   * first (then id), strictly after `after` in that order.
   */
  inactiveSessions(query: InactiveSessionQuery & { limit: number; after?: { updatedAt: number; id: string } }): Promise<InactiveSession[]>;
  /** How many sessions {@link inactiveSessions} would list in all. */
  countInactiveSessions(query: InactiveSessionQuery): Promise<number>;
  /**
   * Deletes those of `sessionIds` that are still inactive (the conditions re-checked on
   * rows locked until commit, so a session that got a message since is kept) with every
   * message of theirs, in the current transaction (one is opened when not inside one).
   * Returns the sessions deleted and how many messages went with them.
   */
  deleteInactiveSessions(query: InactiveSessionQuery & { sessionIds: readonly string[] }): Promise<{ sessions: InactiveSession[]; messages: number }>;
}

/** Which sessions count as inactive: last activity before `before`, no live reply at `now`. */
export interface InactiveSessionQuery {
  before: number;
  now: number;
}

/** A session the retention purge may delete. */
export interface InactiveSession {
  id: string;
  userId: string;
  updatedAt: number;
}

/**
 * Chat memory's persistence contract (DESIGN §3, §6): sessions and their messages, a
 * tree read as a path. Implemented by the Kysely store (`store/kysely/chat-*-repository.ts`)
 * and the in-memory store (`store/memory/chat-*-repository.ts`); `storeConformance()`
 * checks both, on SQLite, PostgreSQL and MariaDB.
 *
 * Every method takes the owning `userId` and scopes by it: another user's session or
 * message is `undefined` / `false` / an empty list, exactly like a missing one.
 */

/** Token counts of one reply, or the running totals of a session. */
export interface ChatUsageCounts {
  inputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  cachedInputTokens: number;
}

/** One conversation: `chat_sessions`. */
export interface ChatSessionRow {
  id: string;
  userId: string;
  title: string | null;
  /** The provider id (`LlmProvider.id`) whose key answers this session. */
  provider: string;
  model: string;
  systemPrompt: string | null;
  /** The leaf of the branch shown; null while the session has no message. */
  activeLeafId: string | null;
  /** The last seq allocated in this session (0 for none); only `messages.append` moves it. */
  lastSeq: number;
  /** Totals over every reply of the session. */
  usage: ChatUsageCounts;
  createdAt: number;
  /** Last activity (a message appended or finished, a rename): the list's order. */
  updatedAt: number;
}

export type ChatSessionPatch = Partial<Pick<ChatSessionRow, 'title' | 'provider' | 'model' | 'systemPrompt'>> & { updatedAt: number };

export interface ChatSessionListQuery {
  limit: number;
  /** Keyset: sessions strictly after this one in (updatedAt desc, id desc) order. */
  after?: { updatedAt: number; id: string };
}

export interface ChatSessionsRepository {
  /** Stores the row exactly; `not_found` when the user does not exist, `conflict` for a taken id. */
  insert(row: ChatSessionRow): Promise<void>;
  get(userId: string, sessionId: string): Promise<ChatSessionRow | undefined>;
  /** Most recent activity first, then id descending. */
  list(userId: string, query: ChatSessionListQuery): Promise<ChatSessionRow[]>;
  update(userId: string, sessionId: string, patch: ChatSessionPatch): Promise<ChatSessionRow | undefined>;
  /**
   * Points the session at another leaf. `leafId` must be a message of this session
   * (checked in the same statement); false otherwise or when the session is not the user's.
   */
  setActiveLeaf(userId: string, sessionId: string, leafId: string, updatedAt: number): Promise<boolean>;
  /** Adds one reply's counts to the session totals (and moves `updatedAt`). */
  addUsage(userId: string, sessionId: string, usage: ChatUsageCounts, updatedAt: number): Promise<boolean>;
  /** Deletes the session and, by cascade, every message of it. */
  delete(userId: string, sessionId: string): Promise<boolean>;
}

export type ChatMessageRole = 'user' | 'assistant' | 'system' | 'tool';
export type ChatMessageStatus = 'complete' | 'streaming' | 'incomplete' | 'error';

/** One message: `chat_messages`. A tree by `parentId`; order is `seq`, never a timestamp. */
export interface ChatMessageRow {
  id: string;
  sessionId: string;
  userId: string;
  /** null for the first message of a branch from the root. */
  parentId: string | null;
  /** Allocated by `append`: unique per session, in allocation order. */
  seq: number;
  role: ChatMessageRole;
  /** Plain-text projection of `parts`, for display and search. */
  text: string;
  /** JSON text of the provider-neutral parts (`messagePartsSchema`). */
  parts: string;
  status: ChatMessageStatus;
  /** The ByokErrorCode that ended an `error` reply (or `cancelled`, `lease_expired`). */
  errorCode: string | null;
  /** The client's idempotency key for a user message; unique per session. */
  clientMessageId: string | null;
  /** SHA-256 (hex) of the turn input, to tell a retry from a conflicting reuse of the key. */
  inputHash: string | null;
  /** The run that produces an assistant reply; only that run may write it. */
  runId: string | null;
  /** Until when the run's owner holds the reply; a `streaming` row past it is recoverable. */
  leaseExpiresAt: number | null;
  /** Set by `stop` when the owner is not reachable directly; the owner reads it when renewing. */
  stopRequestedAt: number | null;
  /** JSON text of the reply's usage details (model, finish reason, time to first token, duration). */
  usage: string | null;
  /** The token counts of this reply (zeros for non-replies). */
  usageCounts: ChatUsageCounts;
  /** Estimated tokens of this message's content, for the context window budget. */
  tokenEstimate: number;
  createdAt: number;
  updatedAt: number;
}

/** What a run writes while it streams and when it ends. */
export type ChatRunPatch = Partial<
  Pick<ChatMessageRow, 'text' | 'parts' | 'status' | 'errorCode' | 'leaseExpiresAt' | 'usage' | 'usageCounts' | 'tokenEstimate'>
> & { updatedAt: number };

export interface ChatPathQuery {
  /** The leaf whose ancestors (itself included) form the path. */
  leafId: string;
  limit: number;
  /** Keyset: only messages with seq strictly above (`after`) or below (`before`) this. */
  afterSeq?: number;
  beforeSeq?: number;
}

/** A message's place among its siblings (same parent), in seq order. */
export interface ChatSiblingInfo {
  messageId: string;
  /** Siblings including itself (≥ 1). */
  count: number;
  /** 0-based position among them, by seq. */
  index: number;
  /** Every sibling's id in seq order, to switch branch. */
  siblingIds: string[];
}

export interface ChatUsageQuery {
  /** Inclusive lower and exclusive upper bound on a reply's `createdAt`. */
  from?: number;
  to?: number;
  sessionId?: string;
}

export interface ChatMessagesRepository {
  /**
   * Appends a message: in the current transaction (one is opened when not inside one)
   * `UPDATE sessions SET last_seq = last_seq + 1 WHERE id = ? AND user_id = ?` (which holds
   * the session row until commit, so concurrent appends queue and never collide or leave a
   * gap), reads the seq back, builds the row with it and inserts it; then the session's
   * `updatedAt` becomes the row's `createdAt` and, with `activate`, its active leaf the new
   * message. `undefined` when the session is not the user's (nothing is built).
   *
   * Refused, leaving `last_seq` and everything else as it was (an enclosing transaction
   * stays usable): a duplicate `clientMessageId` (or message id) in the session is a
   * `conflict` ByokError; a `parentId` that is not a message of this session is `not_found`;
   * a built row whose `seq`, `sessionId` or `userId` differs from what it was given is
   * `internal`; an error thrown by `build` passes through.
   */
  append(
    userId: string,
    sessionId: string,
    build: (seq: number) => ChatMessageRow,
    options?: { activate?: boolean },
  ): Promise<ChatMessageRow | undefined>;
  get(userId: string, messageId: string): Promise<ChatMessageRow | undefined>;
  findByClientMessageId(userId: string, sessionId: string, clientMessageId: string): Promise<ChatMessageRow | undefined>;
  /** The direct children of a message (or the roots for `parentId: null`), in seq order; [] when the session is not the user's. */
  children(userId: string, sessionId: string, parentId: string | null): Promise<ChatMessageRow[]>;
  /**
   * The path from the root to `leafId`, in seq order, paged by seq: with `beforeSeq`, the
   * `limit` messages just below it (still returned in ascending order); otherwise the first
   * `limit` above `afterSeq` (or from the start). Both bounds together give the window between
   * them (the `limit` highest). [] when the leaf is not a message of the user's session.
   */
  path(userId: string, sessionId: string, query: ChatPathQuery): Promise<ChatMessageRow[]>;
  /** Sibling counts and positions for these messages of one session, in the order asked; ids not in the user's session are left out. */
  siblings(userId: string, sessionId: string, messageIds: string[]): Promise<ChatSiblingInfo[]>;
  /**
   * Writes a run's progress or its end, only while the row still belongs to that run and is
   * `streaming` (`WHERE id = ? AND user_id = ? AND run_id = ? AND status = 'streaming'`).
   * Returns the row after the write (its `stopRequestedAt` tells the owner a stop was asked),
   * or undefined when the run lost the row (stopped elsewhere, recovered after its lease
   * expired, or deleted).
   */
  updateRun(userId: string, messageId: string, runId: string, patch: ChatRunPatch): Promise<ChatMessageRow | undefined>;
  /** Asks the run that holds a streaming reply to stop (sets `stopRequestedAt`); false when none streams. */
  requestStop(userId: string, messageId: string, at: number): Promise<boolean>;
  /** Streaming replies whose lease ended before `now` (`lease_expires_at < now`), system-wide, oldest lease first (then id) — for recovery. */
  expiredRuns(now: number, limit: number): Promise<ChatMessageRow[]>;
  /**
   * Recovery: ends one expired run as `incomplete` (error code `lease_expired`, `updatedAt`
   * = `now`) only if it is still that run's and its lease is still past `now`
   * (`WHERE id = ? AND run_id = ? AND status = 'streaming' AND lease_expires_at < ?`), so an
   * owner that renewed in between keeps its row. Not user-scoped: only recovery calls it.
   */
  recoverRun(messageId: string, runId: string, now: number): Promise<boolean>;
  /**
   * Usage totals of the user's replies (assistant rows with usage) in a time range,
   * optionally of one session.
   */
  usageTotals(userId: string, query: ChatUsageQuery): Promise<ChatUsageCounts & { replies: number }>;
}

import { z } from 'zod';
import { ByokError, isByokError } from '../errors';
import { NO_REQUEST_META } from '../http/request-meta';
import type { RequestMeta } from '../http/types';
import type { ConcurrencyLease } from '../http/rate-limit/rate-limit-store';
import type { RateLimiter } from '../http/rate-limit/rate-limiter';
import type { LlmProvider } from '../llm/llm-provider';
import { partsText, type TextPart } from '../llm/message-parts';
import type { ChatMessageRow, ChatSessionRow, ChatSiblingInfo } from '../store/chat-repositories';
import type { Store } from '../store/store';
import type { UsersAuditRecorder } from '../users/users-service';
import { systemClock, type Clock } from '../util/clock';
import { decodeCursor, encodeCursor, pageInput, type Page, type PageInput } from '../util/cursor';
import { uuidv7 } from '../util/ids';
import { silentLogger, type Logger } from '../util/logger';
import type { KeyVault } from '../vault/key-vault';
import type { ChatEvent, ChatRunHub, JsonValue } from './chat-events';
import { ChatRun, type ChatUsageReport } from './chat-run';
import { MemoryChatRunHub } from './chat-run-hub-memory';
import {
  changeModelInput,
  clientMessageIdSchema,
  createSessionInput,
  listMessagesInput,
  parseChatInput,
  renameSessionInput,
  switchBranchInput,
  usageTotalsInput,
  type ChangeModelInput,
  type ChatMessage,
  type ChatSession,
  type ContextPreview,
  type CreateSessionInput,
  type ListMessagesInput,
  type RenameSessionInput,
  type StopResult,
  type SwitchBranchInput,
  type TurnInput,
  type UsageTotals,
  type UsageTotalsInput,
} from './chat-schemas';
import { toolDefinitions, type ChatTool } from './chat-tools';
import { DEFAULT_MAX_CONTEXT_MESSAGES, estimateTokens, loadContextWindow, type ContextWindow, type ContextWindowLimits } from './context-window';
import { ModelLimits } from './model-limits';
import { ChatRetention, type ChatPurgeReport, type ChatRetentionOptions, type PurgeExpiredOptions } from './retention';
import { SessionTitles, type ChatTitlesOption } from './session-titles';
import { appendedPartsChunks, endChunks, storedReplyChunks } from './reply-chunks';
import { parseRunEventId, withReplyOffsets } from './run-event-id';
import { inputHashKeyer } from './sealed-content';
import { turnInputHash, turnParts, type TurnKind } from './turn-input';

/** How chat turns run (`createByok({ chat })`). */
export interface ChatOptions {
  /**
   * How long a streaming reply is held by its instance without a renewal; after that,
   * recovery may mark it `incomplete`. Renewed with every partial save and at least every
   * third of it. It also bounds how long a reply that finished while the database was away
   * keeps retrying its final write (the reader waits for the end meanwhile). Default 30 s.
   */
  leaseMs?: number;
  /** Most provider calls one reply may take when tools run (each step's calls are run, then the model is asked again). Default 5. */
  maxSteps?: number;
  /** How much of the active path a turn sends. */
  context?: ContextWindowLimits;
  /**
   * Stop a reply (stored `incomplete`, code `aborted`) when the client that sent it goes
   * away. Default false: the reply is finished and stored, ready on reload.
   */
  abortOnDisconnect?: boolean;
  /** At most one partial save of a streaming reply per this many ms. Default 250. */
  partialSaveMs?: number;
  /**
   * Names a new session from its first exchange, in the background after the reply is
   * stored (never delaying it), with the session's provider and the user's key. Default off.
   */
  titles?: ChatTitlesOption;
  /** How long a session is kept after its last activity: purged by `byok chat purge` and {@link ChatService.purgeExpired}. Default: kept. */
  retention?: ChatRetentionOptions;
  /**
   * Told each reply's token usage once the reply is stored (complete, incomplete or
   * error), with its user and provider: the hook for per-user metering or billing. A
   * throwing hook is logged and changes nothing.
   */
  onUsage?: (usage: ChatUsageReport) => void;
}

/** What a {@link ChatService} is built from. */
export interface ChatServiceOptions {
  store: Store;
  keyVault: KeyVault;
  /** The configured model providers; a session names one by id. */
  providers: readonly LlmProvider[];
  audit: UsersAuditRecorder;
  /** Sends per user and IP (`chat_send`) and concurrent streams per user. Without it, none are limited. */
  rateLimiter?: RateLimiter;
  /** Where live runs publish their chunks (resume) and hear stop requests. Default in-process. */
  hub?: ChatRunHub;
  /** Refuse turns with a stored key the provider could not verify (`keyVault.allowUnverified: false`). */
  refuseUnverifiedKeys?: boolean;
  clock?: Clock;
  logger?: Logger;
  options?: ChatOptions;
}

/** Options of one turn. */
export interface SendOptions {
  /**
   * The client's idempotency key (or the `Idempotency-Key` header): a retry with the same
   * key and input gets the stored turn, or joins it while it streams; with other input it
   * is `idempotency_conflict`. Generated when absent (no retry protection).
   */
  clientMessageId?: string;
  /** The reader's signal (the client connection): when it aborts, reading ends; the reply goes on unless `abortOnDisconnect`. */
  signal?: AbortSignal;
  /** Host functions the model may call this turn. */
  tools?: readonly ChatTool[];
  /** Answer under this message instead of the active leaf (`null`: a new branch from the root). */
  parentId?: string | null;
  /** The client IP, for the per-IP send limit. */
  ip?: string | null;
  /** Overrides {@link ChatOptions.abortOnDisconnect} for this turn. */
  abortOnDisconnect?: boolean;
}

/** Options of {@link ChatService.resume}. */
export interface ResumeOptions {
  /** The SSE id of the last event the client has (`Last-Event-ID`): only later events are sent. */
  lastEventId?: string;
  signal?: AbortSignal;
}

class ExistingTurn extends Error {
  constructor(readonly row: ChatMessageRow) {
    super('existing turn');
  }
}

const DEFAULTS = { leaseMs: 30_000, maxSteps: 5, partialSaveMs: 250 };
const NO_SLOT: ConcurrencyLease = { id: 'unlimited', release: async () => {}, renew: async () => true };
const sessionCursor = z.tuple([z.number().int(), z.string().min(1).max(64)]);
const messageCursor = z.tuple([z.enum(['b', 'f']), z.string().min(1).max(64), z.number().int().nonnegative()]);

/**
 * Chat memory and the chat turn (DESIGN §6): sessions, messages as a tree read as a path,
 * branches, the context window, and replies that stream from the user's own key, are
 * stored as they stream and survive the client leaving. Every method takes the acting
 * user first; another user's session or message is `not_found`.
 *
 * A turn ({@link send}, {@link edit}, {@link regenerate}) is an AsyncIterable of
 * {@link ChatEvent}s (AI SDK UI message stream chunks at numbered positions). Nothing
 * happens until it is iterated; a turn that is refused (bad input, `not_found`,
 * `rate_limited`, `conflict` while a reply streams, `idempotency_conflict`, a missing,
 * invalid or refused key) throws from the first `next()`, before any event and before the
 * provider is called. Once events flow, the turn is stored and its failures arrive as an
 * `error` chunk (the reply stored `error` with the code).
 *
 * @example
 * const session = await byok.chat.createSession(userId, { provider: 'gemini', model: 'gemini-2.5-flash' });
 * for await (const event of byok.chat.send(userId, session.id, { text: 'Hello' }, { clientMessageId: 'c-1' })) {
 *   if (event.chunk.type === 'text-delta') process.stdout.write(event.chunk.delta);
 * }
 */
export class ChatService {
  readonly #store: Store;
  readonly #vault: KeyVault;
  readonly #providers: Map<string, LlmProvider>;
  readonly #audit: UsersAuditRecorder;
  readonly #limiter: RateLimiter | undefined;
  readonly #hub: ChatRunHub;
  readonly #ownsHub: boolean;
  readonly #refuseUnverified: boolean;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #leaseMs: number;
  readonly #maxSteps: number;
  readonly #partialSaveMs: number;
  readonly #context: { maxMessages: number; tokenBudget: number | null };
  readonly #abortOnDisconnect: boolean;
  readonly #limits: ModelLimits;
  readonly #titles: SessionTitles;
  readonly #onUsage: ((usage: ChatUsageReport) => void) | undefined;
  readonly #retention: ChatRetention;
  /** Runs this instance is producing, by run id. */
  readonly #live = new Map<string, { run: ChatRun; sessionId: string }>();
  #closed = false;

  constructor(options: ChatServiceOptions) {
    const o = options.options ?? {};
    for (const [name, value] of [
      ['leaseMs', o.leaseMs],
      ['maxSteps', o.maxSteps],
      ['partialSaveMs', o.partialSaveMs],
      ['context.maxMessages', o.context?.maxMessages],
      ['context.tokenBudget', o.context?.tokenBudget],
    ] as const) {
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) throw new ByokError('config_invalid', `chat.${name} must be a positive integer`);
    }
    if (o.leaseMs !== undefined && o.leaseMs < 1_000) throw new ByokError('config_invalid', 'chat.leaseMs must be at least 1000');
    this.#store = options.store;
    this.#vault = options.keyVault;
    this.#providers = new Map(options.providers.map((p) => [p.id, p]));
    this.#audit = options.audit;
    this.#limiter = options.rateLimiter;
    this.#hub = options.hub ?? new MemoryChatRunHub();
    this.#ownsHub = options.hub === undefined;
    this.#refuseUnverified = options.refuseUnverifiedKeys === true;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#leaseMs = o.leaseMs ?? DEFAULTS.leaseMs;
    this.#maxSteps = o.maxSteps ?? DEFAULTS.maxSteps;
    this.#partialSaveMs = o.partialSaveMs ?? DEFAULTS.partialSaveMs;
    this.#context = { maxMessages: o.context?.maxMessages ?? DEFAULT_MAX_CONTEXT_MESSAGES, tokenBudget: o.context?.tokenBudget ?? null };
    this.#abortOnDisconnect = o.abortOnDisconnect === true;
    this.#limits = new ModelLimits({ clock: this.#clock, logger: this.#logger });
    if (o.onUsage !== undefined && typeof o.onUsage !== 'function') throw new ByokError('config_invalid', 'chat.onUsage must be a function');
    this.#onUsage = o.onUsage;
    this.#titles = new SessionTitles({ store: this.#store, keyVault: this.#vault, providers: options.providers, logger: this.#logger, ...(o.titles !== undefined ? { options: o.titles } : {}) });
    this.#retention = new ChatRetention({ store: this.#store, audit: this.#audit, clock: this.#clock, ...(o.retention !== undefined ? { options: o.retention } : {}) });
  }

  /** The lease of a streaming reply, in ms (recovery runs on this cadence). */
  get leaseMs(): number {
    return this.#leaseMs;
  }

  // ------------------------------------------------------------------ sessions

  /**
   * Starts a conversation with one of the configured providers (`validation_failed`
   * otherwise) and a model of it.
   *
   * @example
   * const session = await byok.chat.createSession(userId, { provider: 'gemini', model: 'gemini-2.5-flash', systemPrompt: 'Be brief.' });
   */
  async createSession(userId: string, input: CreateSessionInput): Promise<ChatSession> {
    const parsed = parseChatInput(createSessionInput, input, 'session');
    this.#provider(parsed.provider);
    const now = this.#clock.now();
    const row: ChatSessionRow = {
      id: uuidv7(now),
      userId,
      title: parsed.title ?? null,
      provider: parsed.provider,
      model: parsed.model,
      systemPrompt: parsed.systemPrompt ? parsed.systemPrompt : null,
      activeLeafId: null,
      lastSeq: 0,
      usage: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 },
      createdAt: now,
      updatedAt: now,
    };
    await this.#store.chatSessions.insert(row);
    return toSession(row);
  }

  /** The user's sessions, most recent activity first, keyset-paged. */
  async listSessions(userId: string, input: PageInput = {}): Promise<Page<ChatSession>> {
    const { limit, cursor } = parseChatInput(pageInput, input, 'page');
    const after = cursor === undefined ? undefined : decodeCursor('chat-sessions', cursor, sessionCursor);
    const rows = await this.#store.chatSessions.list(userId, { limit: limit + 1, ...(after ? { after: { updatedAt: after[0], id: after[1] } } : {}) });
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return { items: items.map(toSession), nextCursor: rows.length > limit && last ? encodeCursor('chat-sessions', [last.updatedAt, last.id]) : null };
  }

  /** One session with its usage totals; `not_found` unless it is the user's. */
  async getSession(userId: string, sessionId: string): Promise<ChatSession> {
    return toSession(await this.#session(userId, sessionId));
  }

  /** Sets (or, with null, clears) the title. */
  async renameSession(userId: string, sessionId: string, input: RenameSessionInput): Promise<ChatSession> {
    const { title } = parseChatInput(renameSessionInput, input, 'title');
    const row = await this.#store.chatSessions.update(userId, sessionId, { title, updatedAt: this.#clock.now() });
    if (!row) throw notFound();
    return toSession(row);
  }

  /** The model of the next turns (and, with `provider`, the provider whose key answers them). */
  async changeModel(userId: string, sessionId: string, input: ChangeModelInput): Promise<ChatSession> {
    const parsed = parseChatInput(changeModelInput, input, 'model');
    if (parsed.provider !== undefined) this.#provider(parsed.provider);
    const row = await this.#store.chatSessions.update(userId, sessionId, {
      model: parsed.model,
      ...(parsed.provider !== undefined ? { provider: parsed.provider } : {}),
      updatedAt: this.#clock.now(),
    });
    if (!row) throw notFound();
    return toSession(row);
  }

  /** Deletes the session with every message of it (audited); a reply streaming in it ends. */
  async deleteSession(userId: string, sessionId: string, meta: RequestMeta = NO_REQUEST_META): Promise<void> {
    await this.#store.transaction(async (tx) => {
      const session = await tx.chatSessions.get(userId, sessionId);
      if (!session || !(await tx.chatSessions.delete(userId, sessionId))) throw notFound();
      await this.#audit.record(
        { actorUserId: userId, action: 'chat.session.deleted', target: sessionId, outcome: 'success', metadata: { sessionId, messages: session.lastSeq }, ...meta },
        tx,
      );
    });
    for (const live of this.#live.values()) if (live.sessionId === sessionId) live.run.stop('cancelled');
  }

  // ------------------------------------------------------------------ messages

  /**
   * The active path (the branch the session shows), a page at a time in `seq` order, each
   * message with its sibling count and position. `direction: 'backward'` (default) starts
   * at the newest; `'forward'` at the first.
   */
  async listMessages(userId: string, sessionId: string, input: ListMessagesInput = {}): Promise<Page<ChatMessage>> {
    const parsed = parseChatInput(listMessagesInput, input, 'page');
    const session = await this.#session(userId, sessionId);
    let direction: 'b' | 'f' = parsed.direction === 'forward' ? 'f' : 'b';
    let leafId = session.activeLeafId;
    let seq: number | undefined;
    if (parsed.cursor !== undefined) {
      [direction, leafId, seq] = decodeCursor('chat-messages', parsed.cursor, messageCursor);
    }
    if (leafId === null) return { items: [], nextCursor: null };
    const limit = parsed.limit;
    const messages = this.#store.chatMessages;
    let rows: ChatMessageRow[];
    let nextSeq: number | undefined;
    if (direction === 'b') {
      rows = await messages.path(userId, sessionId, { leafId, limit: limit + 1, beforeSeq: seq ?? session.lastSeq + 1 });
      if (rows.length > limit) {
        rows = rows.slice(1);
        nextSeq = rows[0]!.seq;
      }
    } else {
      rows = await messages.path(userId, sessionId, { leafId, limit: limit + 1, ...(seq !== undefined ? { afterSeq: seq } : {}) });
      if (rows.length > limit) {
        rows = rows.slice(0, limit);
        nextSeq = rows.at(-1)!.seq;
      }
    }
    const items = await this.#views(userId, sessionId, rows);
    return { items, nextCursor: nextSeq === undefined ? null : encodeCursor('chat-messages', [direction, leafId, nextSeq]) };
  }

  /** One message of the session (on any branch), with its siblings; `not_found` unless it is in the user's session. */
  async getMessage(userId: string, sessionId: string, messageId: string): Promise<ChatMessage> {
    const row = await this.#message(userId, sessionId, messageId);
    return (await this.#views(userId, sessionId, [row]))[0]!;
  }

  /**
   * Shows another branch: the active leaf moves to the newest message under `messageId`
   * (following the most recent reply at each level), so passing one of a message's
   * `siblings.ids` shows that sibling's conversation. Refused (`conflict`) while a reply streams.
   */
  async switchBranch(userId: string, sessionId: string, input: SwitchBranchInput): Promise<ChatSession> {
    const { messageId } = parseChatInput(switchBranchInput, input, 'branch');
    let leaf = await this.#message(userId, sessionId, messageId);
    for (;;) {
      const children = await this.#store.chatMessages.children(userId, sessionId, leaf.id);
      const newest = children.at(-1);
      if (!newest) break;
      leaf = newest;
    }
    const now = this.#clock.now();
    const row = await this.#store.transaction(async (tx) => {
      // Locks the session row first, so a turn starting now is ordered before or after this.
      const current = await tx.chatSessions.update(userId, sessionId, { updatedAt: now });
      if (!current) throw notFound();
      await this.#refuseWhileStreaming(tx, userId, current, now);
      if (!(await tx.chatSessions.setActiveLeaf(userId, sessionId, leaf.id, now))) throw notFound();
      return { ...current, activeLeafId: leaf.id, updatedAt: now };
    });
    return toSession(row);
  }

  // ------------------------------------------------------------------ turns

  /**
   * Sends a user message and streams the reply. The message goes under the active leaf
   * (or `parentId`), the reply under it, and the session shows the new branch.
   */
  send(userId: string, sessionId: string, input: TurnInput, options: SendOptions = {}): AsyncIterable<ChatEvent> {
    return this.#turn(userId, sessionId, { kind: 'send', ...(options.parentId !== undefined ? { parentId: options.parentId } : {}) }, input, options);
  }

  /** Edits a user message: a sibling of it with `input` (a new branch) and a new reply. */
  edit(userId: string, sessionId: string, messageId: string, input: TurnInput, options: Omit<SendOptions, 'parentId'> = {}): AsyncIterable<ChatEvent> {
    return this.#turn(userId, sessionId, { kind: 'edit', messageId }, input, options);
  }

  /** A new answer to the user message an assistant reply answered: a sibling reply. */
  regenerate(userId: string, sessionId: string, messageId: string, options: Omit<SendOptions, 'parentId'> = {}): AsyncIterable<ChatEvent> {
    return this.#turn(userId, sessionId, { kind: 'regenerate', messageId }, null, options);
  }

  /**
   * Ends the live reply of the session (or the reply `messageId`) on whichever instance
   * produces it: here directly, elsewhere through the hub and the row's stop flag (read
   * at the owner's next save). Resolves once the reply is stored `incomplete` with what it
   * had (an open tool call gets a cancelled result), or after the lease when the owner
   * does not answer. `stopped: false` when no reply was streaming.
   */
  async stop(userId: string, sessionId: string, options: { messageId?: string } = {}): Promise<StopResult> {
    const session = await this.#session(userId, sessionId);
    const targetId = options.messageId ?? session.activeLeafId;
    if (targetId === null) return { stopped: false, message: null };
    let target = options.messageId !== undefined ? await this.#message(userId, sessionId, targetId) : await this.#store.chatMessages.get(userId, targetId);
    if (!target) return { stopped: false, message: null };
    if (target.status !== 'streaming' || target.runId === null) return { stopped: false, message: await this.#view(userId, sessionId, target) };
    const runId = target.runId;
    const local = this.#live.get(runId);
    if (local) {
      local.run.stop('cancelled');
      await local.run.done;
    } else if (target.leaseExpiresAt !== null && target.leaseExpiresAt < this.#clock.now()) {
      await this.#store.chatMessages.recoverRun(target.id, runId, this.#clock.now());
    } else {
      await this.#store.chatMessages.requestStop(userId, target.id, this.#clock.now());
      await this.#hub.requestStop(runId).catch((err: unknown) => this.#logger.warn({ err, runId }, 'byok chat: hub stop request failed'));
      const until = Date.now() + this.#leaseMs + 1_000;
      for (;;) {
        const row = await this.#store.chatMessages.get(userId, target.id);
        if (!row || row.status !== 'streaming' || Date.now() > until) break;
        if (row.leaseExpiresAt !== null && row.leaseExpiresAt < this.#clock.now()) {
          await this.#store.chatMessages.recoverRun(row.id, runId, this.#clock.now());
          break;
        }
        await sleep(50);
      }
    }
    target = (await this.#store.chatMessages.get(userId, target.id)) ?? target;
    return { stopped: true, message: await this.#view(userId, sessionId, target) };
  }

  /**
   * Reconnects a reader. With `lastEventId`, the events after it: the rest of the live
   * run, or of an ended run while the hub still has it; otherwise the stored reply as
   * chunks (regenerated from the stored parts, deterministically). Without it, the
   * session's live reply from its start; `null` when none is streaming (HTTP 204).
   */
  async resume(userId: string, sessionId: string, options: ResumeOptions = {}): Promise<AsyncIterable<ChatEvent> | null> {
    const session = await this.#session(userId, sessionId);
    if (options.lastEventId !== undefined) {
      const { runId, offset, closing } = parseRunEventId(options.lastEventId);
      const reply = await this.#message(userId, sessionId, runId);
      if (reply.role !== 'assistant' || reply.runId !== runId) throw notFound();
      // The reader's offset, not its position, says where it is: the events may come from
      // the hub or from the stored reply (whose deltas are cut differently), on any instance.
      const events = (await this.#hub.subscribe(runId, 0, options.signal)) ?? this.#storedEvents(userId, sessionId, reply, options.signal);
      return withReplyOffsets(events, { offset, closing });
    }
    if (session.activeLeafId === null) return null;
    const leaf = await this.#store.chatMessages.get(userId, session.activeLeafId);
    if (!leaf || leaf.status !== 'streaming' || leaf.runId === null) return null;
    return withReplyOffsets((await this.#hub.subscribe(leaf.runId, 0, options.signal)) ?? this.#storedEvents(userId, sessionId, leaf, options.signal));
  }

  /**
   * The context window the next turn would send (with `input`, including that message):
   * the same messages, in the same shape, as `send` gives the provider.
   */
  async previewContext(userId: string, sessionId: string, options: { input?: TurnInput } = {}): Promise<ContextPreview> {
    const parts = options.input === undefined ? null : turnParts(options.input);
    const session = await this.#session(userId, sessionId);
    const provider = this.#provider(session.provider);
    let inputLimit = this.#limits.known(provider.id, session.model);
    if (inputLimit === undefined && provider.listModels) {
      try {
        inputLimit = await this.#vault.withKey(userId, provider.id, (apiKey) => this.#limits.inputLimit(provider, session.model, apiKey));
      } catch (error) {
        if (!isByokError(error) || !['key_missing', 'key_invalid'].includes(error.code)) throw error;
      }
    }
    const extra = parts === null ? [] : [draftUserRow(userId, session, parts, this.#clock.now())];
    const window = await this.#window(userId, session, session.activeLeafId, inputLimit, extra);
    return {
      provider: provider.id,
      model: session.model,
      systemPrompt: window.systemPrompt,
      messages: window.messages,
      messageIds: window.messageIds.filter((id) => !extra.some((r) => r.id === id)),
      estimatedTokens: window.estimatedTokens,
      tokenBudget: window.tokenBudget,
      maxMessages: window.maxMessages,
      truncated: window.truncated,
    };
  }

  /** Token totals of the user's replies in a time range (`from` inclusive, `to` exclusive), optionally of one session. */
  async usageTotals(userId: string, input: UsageTotalsInput = {}): Promise<UsageTotals> {
    const query = parseChatInput(usageTotalsInput, input, 'range');
    if (query.sessionId !== undefined) await this.#session(userId, query.sessionId);
    return this.#store.chatMessages.usageTotals(userId, query);
  }

  /**
   * Marks `incomplete` (code `lease_expired`) every streaming reply whose lease has
   * expired: its instance died or stalled. A reply whose owner renewed in the meantime is
   * left alone, and so is a reply this instance is producing: its lease may have run out
   * only because its renewal is queued behind a busy pool, and the run is alive. Returns how
   * many were recovered. createByok runs it at start and then every lease.
   */
  async recoverExpired(options: { limit?: number } = {}): Promise<number> {
    const limit = options.limit ?? 100;
    let recovered = 0;
    for (;;) {
      const now = this.#clock.now();
      const rows = await this.#store.chatMessages.expiredRuns(now, limit);
      let ours = 0;
      for (const row of rows) {
        if (row.runId === null) continue;
        if (this.#live.has(row.runId)) {
          ours += 1;
          continue;
        }
        if (await this.#store.chatMessages.recoverRun(row.id, row.runId, now)) recovered += 1;
      }
      // A page that is only this instance's own runs would come back the same: stop there.
      if (rows.length < limit || ours === rows.length) return recovered;
    }
  }

  /**
   * Deletes the sessions past `chat.retention.maxAgeMs` (see {@link ChatRetention}), in
   * batches, each with one audit row of counts; `config_invalid` without a retention.
   *
   * @example
   * // nightly, on one instance
   * setInterval(() => void byok.chat.purgeExpired({ batchSize: 500 }), 86_400_000).unref();
   */
  purgeExpired(options: PurgeExpiredOptions = {}): Promise<ChatPurgeReport> {
    return this.#retention.purgeExpired(options);
  }

  /** Resolves once the session titles asked for so far are stored or given up. */
  titlesIdle(): Promise<void> {
    return this.#titles.idle();
  }

  /** Stops the replies this instance produces (stored `incomplete`, code `aborted`) and waits until they are stored. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const live = [...this.#live.values()];
    for (const { run } of live) run.stop('aborted');
    await Promise.all(live.map(({ run }) => run.done));
    await this.#titles.close();
    if (this.#ownsHub) await this.#hub.close();
  }

  // ------------------------------------------------------------------ internals

  #turn(userId: string, sessionId: string, kind: TurnKind, input: TurnInput | null, options: SendOptions): AsyncIterable<ChatEvent> {
    const abortOnDisconnect = options.abortOnDisconnect ?? this.#abortOnDisconnect;
    const begin = (): Promise<{ events: AsyncIterable<ChatEvent>; run: ChatRun | null }> => this.#begin(userId, sessionId, kind, input, options);
    return {
      [Symbol.asyncIterator]: () => readTurn(begin, options.signal, abortOnDisconnect),
    };
  }

  async #begin(
    userId: string,
    sessionId: string,
    kind: TurnKind,
    input: TurnInput | null,
    options: SendOptions,
  ): Promise<{ events: AsyncIterable<ChatEvent>; run: ChatRun | null }> {
    if (this.#closed) throw new ByokError('conflict', 'The chat service is closed');
    const parts = input === null ? null : turnParts(input);
    const clientMessageId = options.clientMessageId === undefined ? uuidv7() : parseChatInput(clientMessageIdSchema, options.clientMessageId, 'clientMessageId');
    if (options.parentId !== undefined && options.parentId !== null && typeof options.parentId !== 'string') throw new ByokError('validation_failed', 'Invalid parentId');
    const tools = options.tools ?? [];
    const definitions = toolDefinitions(tools);
    await this.#limiter?.check('chat_send', { ip: options.ip ?? null, userId });
    const session = await this.#session(userId, sessionId);
    const provider = this.#provider(session.provider);
    let target: ChatMessageRow | undefined;
    if (kind.kind !== 'send') {
      target = await this.#message(userId, sessionId, kind.messageId);
      const wanted = kind.kind === 'edit' ? 'user' : 'assistant';
      if (target.role !== wanted) throw new ByokError('validation_failed', kind.kind === 'edit' ? 'Only a user message can be edited' : 'Only an assistant reply can be regenerated');
      if (kind.kind === 'regenerate' && target.parentId === null) throw new ByokError('validation_failed', 'This reply answers no message');
    }
    // Under sealed content the stored hash is keyed; a row from before sealing keeps the plain one.
    const plainHash = turnInputHash(kind, parts);
    const keyer = inputHashKeyer(this.#store);
    const inputHash = keyer ? await keyer(userId, sessionId, plainHash) : plainHash;
    const sameInput = (row: ChatMessageRow) => row.inputHash === inputHash || row.inputHash === plainHash;
    const known = await this.#store.chatMessages.findByClientMessageId(userId, sessionId, clientMessageId);
    if (known) return { events: await this.#existing(userId, sessionId, known, sameInput, options.signal), run: null };
    if (this.#refuseUnverified) {
      const status = await this.#vault.getStatus(userId, provider.id);
      if (status.status === 'unverified') throw new ByokError('key_unverified', `The ${provider.id} key is not verified and unverified keys are refused; test it again`);
    }
    const slot = this.#limiter ? await this.#limiter.acquireStream(userId) : NO_SLOT;

    let started: (value: { events: AsyncIterable<ChatEvent>; run: ChatRun | null }) => void = () => undefined;
    let refused: (error: unknown) => void = () => undefined;
    const ready = new Promise<{ events: AsyncIterable<ChatEvent>; run: ChatRun | null }>((resolve, reject) => {
      started = resolve;
      refused = reject;
    });
    let running = false;
    const keyed = this.#vault.withKey(userId, provider.id, async (apiKey) => {
      const inputLimit = await this.#limits.inputLimit(provider, session.model, apiKey);
      let stored: { session: ChatSessionRow; userRow: ChatMessageRow | null; reply: ChatMessageRow };
      try {
        stored = await this.#storeTurn({ userId, sessionId, kind, parts, clientMessageId, inputHash, target });
      } catch (error) {
        if (error instanceof ExistingTurn) {
          await slot.release();
          started({ events: await this.#existing(userId, sessionId, error.row, sameInput, options.signal), run: null });
          return;
        }
        throw error;
      }
      const { reply, userRow } = stored;
      const parentUser = userRow ?? (await this.#store.chatMessages.get(userId, reply.parentId!)) ?? null;
      const run = new ChatRun(
        {
          store: this.#store,
          hub: this.#hub,
          clock: this.#clock,
          logger: this.#logger,
          provider,
          streamSlot: slot,
          leaseMs: this.#leaseMs,
          partialSaveMs: this.#partialSaveMs,
          maxSteps: this.#maxSteps,
          onUsage: this.#onUsage,
        },
        {
          userId,
          sessionId,
          model: stored.session.model,
          systemPrompt: stored.session.systemPrompt,
          loadMessages: async () => (await this.#window(userId, stored.session, reply.parentId, inputLimit)).messages,
          reply,
          userMessage: parentUser,
          tools,
          toolDefinitions: definitions,
        },
      );
      this.#live.set(run.runId, { run, sessionId });
      running = true;
      try {
        await run.open();
        const events = await this.#hub.subscribe(run.runId, 0, options.signal).catch((err: unknown) => {
          this.#logger.warn({ err, runId: run.runId }, 'byok chat: run hub subscribe failed; reading from the store');
          return undefined;
        });
        started({ events: events ?? this.#storedEvents(userId, sessionId, reply, options.signal), run });
        await run.run(apiKey);
        this.#titles.afterTurn({ userId, sessionId, replyMessageId: reply.id });
      } finally {
        this.#live.delete(run.runId);
      }
    });
    keyed.catch(async (error: unknown) => {
      if (!running) {
        await slot.release().catch(() => undefined);
        refused(error);
      } else {
        this.#logger.error({ err: error }, 'byok chat: a reply run failed');
      }
    });
    return ready;
  }

  /** The transaction that starts a turn: the user message (unless regenerating) and the streaming reply. */
  async #storeTurn(input: {
    userId: string;
    sessionId: string;
    kind: TurnKind;
    parts: TextPart[] | null;
    clientMessageId: string;
    inputHash: string;
    target: ChatMessageRow | undefined;
  }): Promise<{ session: ChatSessionRow; userRow: ChatMessageRow | null; reply: ChatMessageRow }> {
    const { userId, sessionId, kind, parts, clientMessageId, inputHash, target } = input;
    const now = this.#clock.now();
    const replyId = uuidv7(now);
    return this.#store.transaction(async (tx) => {
      // Locking the session row first orders concurrent turns: everything read after it is current.
      const current = await tx.chatSessions.update(userId, sessionId, { updatedAt: now });
      if (!current) throw notFound();
      const existing = await tx.chatMessages.findByClientMessageId(userId, sessionId, clientMessageId);
      if (existing) throw new ExistingTurn(existing);
      await this.#refuseWhileStreaming(tx, userId, current, now);
      let userRow: ChatMessageRow | null = null;
      if (parts !== null) {
        const parentId = kind.kind === 'send' ? (kind.parentId !== undefined ? kind.parentId : current.activeLeafId) : target!.parentId;
        userRow =
          (await tx.chatMessages.append(userId, sessionId, (seq) => ({
            ...blankRow(uuidv7(now), userId, sessionId, seq, now),
            parentId,
            role: 'user',
            text: partsText(parts),
            parts: JSON.stringify(parts),
            status: 'complete',
            clientMessageId,
            inputHash,
            tokenEstimate: estimateTokens(parts),
          }))) ?? null;
        if (!userRow) throw notFound();
      }
      const regenerate = kind.kind === 'regenerate';
      const reply = await tx.chatMessages.append(
        userId,
        sessionId,
        (seq) => ({
          ...blankRow(replyId, userId, sessionId, seq, now),
          parentId: userRow ? userRow.id : target!.parentId,
          role: 'assistant',
          status: 'streaming',
          // A regenerated reply carries the turn's idempotency key itself (there is no user message).
          clientMessageId: regenerate ? clientMessageId : null,
          inputHash: regenerate ? inputHash : null,
          runId: replyId,
          leaseExpiresAt: now + this.#leaseMs,
        }),
        { activate: true },
      );
      if (!reply) throw notFound();
      return { session: current, userRow, reply };
    });
  }

  /**
   * While a reply streams the session's active leaf is that reply (nothing moves the leaf
   * then), so one look at the leaf tells whether a turn is live. A reply whose lease has
   * expired is recovered on the spot instead of blocking the session.
   */
  async #refuseWhileStreaming(tx: Store, userId: string, session: ChatSessionRow, now: number): Promise<void> {
    if (session.activeLeafId === null) return;
    const leaf = await tx.chatMessages.get(userId, session.activeLeafId);
    if (!leaf || leaf.status !== 'streaming' || leaf.runId === null) return;
    if (leaf.leaseExpiresAt === null || leaf.leaseExpiresAt >= now) {
      throw new ByokError('conflict', 'A reply is streaming in this session: wait for it to finish or stop it');
    }
    await tx.chatMessages.recoverRun(leaf.id, leaf.runId, now);
  }

  /** A turn seen before (same idempotency key): its stored reply, or its live run. */
  async #existing(userId: string, sessionId: string, row: ChatMessageRow, sameInput: (row: ChatMessageRow) => boolean, signal: AbortSignal | undefined): Promise<AsyncIterable<ChatEvent>> {
    if (!sameInput(row)) throw new ByokError('idempotency_conflict', 'This clientMessageId was already used for a different message');
    const reply = row.role === 'assistant' ? row : (await this.#store.chatMessages.children(userId, sessionId, row.id)).find((m) => m.role === 'assistant');
    if (!reply || reply.runId === null) throw notFound();
    if (reply.status === 'streaming') {
      const live = await this.#hub.subscribe(reply.runId, 0, signal);
      if (live) return live;
    }
    return this.#storedEvents(userId, sessionId, reply, signal);
  }

  /**
   * A stored reply as events, positions from 1: its chunks regenerated from the stored
   * parts; while it still streams (on an instance this hub does not reach), the saves that
   * follow, read from the store, until it ends.
   */
  #storedEvents(userId: string, sessionId: string, reply: ChatMessageRow, signal: AbortSignal | undefined): AsyncIterable<ChatEvent> {
    const store = this.#store;
    const pollMs = this.#partialSaveMs;
    return {
      async *[Symbol.asyncIterator]() {
        const runId = reply.runId ?? reply.id;
        let position = 0;
        const userMessage = reply.parentId === null ? null : ((await store.chatMessages.get(userId, reply.parentId)) ?? null);
        const { chunks, writer } = storedReplyChunks({ sessionId, reply, userMessage });
        for (const chunk of chunks) yield { runId, position: ++position, chunk };
        let row = reply;
        while (row.status === 'streaming') {
          await sleep(pollMs, signal);
          if (signal?.aborted) return;
          const next = await store.chatMessages.get(userId, reply.id);
          if (!next) {
            yield { runId, position: ++position, chunk: { type: 'abort' } };
            return;
          }
          const tail = appendedPartsChunks(writer, JSON.parse(row.parts), JSON.parse(next.parts));
          row = next;
          if (row.status !== 'streaming') {
            tail.push(...writer.endStep());
            tail.push(...endChunks({ status: row.status, errorCode: row.errorCode, usage: row.usage === null ? null : (JSON.parse(row.usage) as JsonValue) }));
          }
          for (const chunk of tail) yield { runId, position: ++position, chunk };
        }
      },
    };
  }

  /** The window a turn sends: the active path ending at `leafId`, within the limits and the model's input limit. */
  #window(userId: string, session: ChatSessionRow, leafId: string | null, inputLimit: number | undefined, extra: ChatMessageRow[] = []): Promise<ContextWindow> {
    const budgets = [this.#context.tokenBudget, inputLimit ?? null].filter((b): b is number => b !== null);
    return loadContextWindow({
      messages: this.#store.chatMessages,
      userId,
      sessionId: session.id,
      leafId,
      systemPrompt: session.systemPrompt,
      maxMessages: this.#context.maxMessages,
      tokenBudget: budgets.length > 0 ? Math.min(...budgets) : null,
      extra,
    });
  }

  async #session(userId: string, sessionId: string): Promise<ChatSessionRow> {
    const row = typeof sessionId === 'string' ? await this.#store.chatSessions.get(userId, sessionId) : undefined;
    if (!row) throw notFound();
    return row;
  }

  async #message(userId: string, sessionId: string, messageId: string): Promise<ChatMessageRow> {
    const row = typeof messageId === 'string' ? await this.#store.chatMessages.get(userId, messageId) : undefined;
    if (!row || row.sessionId !== sessionId) throw new ByokError('not_found', 'Message not found');
    return row;
  }

  #provider(providerId: string): LlmProvider {
    const provider = this.#providers.get(providerId);
    if (!provider) {
      throw new ByokError('validation_failed', `The provider ${providerId} is not configured; configured: ${[...this.#providers.keys()].join(', ') || 'none'}`);
    }
    return provider;
  }

  async #view(userId: string, sessionId: string, row: ChatMessageRow): Promise<ChatMessage> {
    return (await this.#views(userId, sessionId, [row]))[0]!;
  }

  async #views(userId: string, sessionId: string, rows: ChatMessageRow[]): Promise<ChatMessage[]> {
    if (rows.length === 0) return [];
    const siblings = new Map((await this.#store.chatMessages.siblings(userId, sessionId, rows.map((r) => r.id))).map((s) => [s.messageId, s]));
    return rows.map((row) => toMessage(row, siblings.get(row.id)));
  }
}

/** Reads a turn: starts it on the first `next()`, and on an early exit stops the run only under `abortOnDisconnect`. */
async function* readTurn(
  begin: () => Promise<{ events: AsyncIterable<ChatEvent>; run: ChatRun | null }>,
  signal: AbortSignal | undefined,
  abortOnDisconnect: boolean,
): AsyncGenerator<ChatEvent> {
  const { events, run } = await begin();
  let readToEnd = false;
  try {
    for await (const event of withReplyOffsets(events)) yield event;
    readToEnd = signal?.aborted !== true;
  } finally {
    if (!readToEnd && run !== null && abortOnDisconnect) run.stop('aborted');
  }
}

function notFound(): ByokError {
  return new ByokError('not_found', 'Chat session not found');
}

function blankRow(id: string, userId: string, sessionId: string, seq: number, now: number): ChatMessageRow {
  return {
    id,
    sessionId,
    userId,
    parentId: null,
    seq,
    role: 'assistant',
    text: '',
    parts: '[]',
    status: 'complete',
    errorCode: null,
    clientMessageId: null,
    inputHash: null,
    runId: null,
    leaseExpiresAt: null,
    stopRequestedAt: null,
    usage: null,
    usageCounts: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 },
    tokenEstimate: 0,
    createdAt: now,
    updatedAt: now,
  };
}

/** The user message a turn would store, for a preview (never stored). */
function draftUserRow(userId: string, session: ChatSessionRow, parts: TextPart[], now: number): ChatMessageRow {
  return {
    ...blankRow(`draft-${uuidv7(now)}`, userId, session.id, session.lastSeq + 1, now),
    parentId: session.activeLeafId,
    role: 'user',
    text: partsText(parts),
    parts: JSON.stringify(parts),
    tokenEstimate: estimateTokens(parts),
  };
}

function toSession(row: ChatSessionRow): ChatSession {
  return {
    id: row.id,
    title: row.title,
    provider: row.provider,
    model: row.model,
    systemPrompt: row.systemPrompt,
    activeLeafId: row.activeLeafId,
    usage: { ...row.usage },
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function toMessage(row: ChatMessageRow, siblings: ChatSiblingInfo | undefined): ChatMessage {
  return {
    id: row.id,
    sessionId: row.sessionId,
    parentId: row.parentId,
    seq: row.seq,
    role: row.role,
    text: row.text,
    parts: JSON.parse(row.parts) as ChatMessage['parts'],
    status: row.status,
    errorCode: row.errorCode,
    clientMessageId: row.clientMessageId,
    usage: row.usage === null ? null : (JSON.parse(row.usage) as ChatMessage['usage']),
    siblings: siblings ? { count: siblings.count, index: siblings.index, ids: siblings.siblingIds } : { count: 1, index: 0, ids: [row.id] },
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

import { ByokError, isByokError, toByokError } from '../errors';
import type { FinishReason, LlmMessage, LlmProvider, StreamEvent, ToolDefinition } from '../llm/llm-provider';
import { partsText, type MessagePart, type ToolCallPart, type ToolResultPart } from '../llm/message-parts';
import { StreamPartsBuilder } from '../llm/stream-parts';
import type { ConcurrencyLease } from '../http/rate-limit/rate-limit-store';
import type { ChatMessageRow, ChatUsageCounts } from '../store/chat-repositories';
import type { Store } from '../store/store';
import type { Clock } from '../util/clock';
import type { Logger } from '../util/logger';
import type { ChatEvent, ChatRunHub, JsonValue, UiMessageChunk } from './chat-events';
import type { ReplyUsage } from './chat-schemas';
import { runToolCall, type ChatTool } from './chat-tools';
import { estimateTokens } from './context-window';
import { endChunks, ReplyChunkWriter, turnChunk } from './reply-chunks';
import { cancelledResult, openToolCalls, replyToLlmMessages } from './reply-parts';
import { recordTokenUsage, startSpan } from '../util/telemetry';

/** Why a run ended before the model finished. */
export type RunStopReason = 'cancelled' | 'aborted';

/** What a run needs from the service. */
export interface ChatRunDeps {
  store: Store;
  hub: ChatRunHub;
  clock: Clock;
  logger: Logger;
  provider: LlmProvider;
  /** The user's concurrent-stream slot, renewed with the lease and released at the end. */
  streamSlot: ConcurrencyLease;
  leaseMs: number;
  /** At most one partial save per this many ms. */
  partialSaveMs: number;
  maxSteps: number;
  /** Told each reply's usage once it is stored (the host's `chat.onUsage`). */
  onUsage?: ((usage: ChatUsageReport) => void) | undefined;
}

/** One stored reply's usage, as the host's `chat.onUsage` hook gets it: per user and provider. */
export interface ChatUsageReport {
  userId: string;
  sessionId: string;
  messageId: string;
  provider: string;
  model: string;
  status: 'complete' | 'incomplete' | 'error';
  inputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  cachedInputTokens: number;
}

/** The turn a run answers. */
export interface ChatRunTurn {
  userId: string;
  sessionId: string;
  model: string;
  systemPrompt: string | null;
  /** Builds the context window: exactly what the first provider call sends. */
  loadMessages: () => Promise<LlmMessage[]>;
  /** The assistant row, stored `streaming` with this run's id and a lease. */
  reply: ChatMessageRow;
  /** The user message it answers. */
  userMessage: ChatMessageRow | null;
  tools: readonly ChatTool[];
  toolDefinitions: ToolDefinition[];
}

class LostRow extends Error {}

const ZERO: ChatUsageCounts = { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 };

/**
 * One live reply: it streams from the provider (and runs tools, step by step), publishes
 * each chunk to the hub at the next position, saves the partial reply at most once per
 * `partialSaveMs` (each save renews the lease; a timer renews it when nothing streams) and
 * ends the row `complete`, `incomplete` or `error` in one transaction with the session's
 * usage totals. It only ever writes its own row while it holds it (`updateRun`): a row
 * stopped, recovered or deleted elsewhere ends the run. The run is independent of whoever
 * reads its chunks.
 */
export class ChatRun {
  readonly runId: string;
  readonly #deps: ChatRunDeps;
  readonly #turn: ChatRunTurn;
  readonly #abort = new AbortController();
  readonly #writer = new ReplyChunkWriter();
  #position = 0;
  #stopReason: RunStopReason | null = null;
  #lost = false;
  #ended = false;
  /** Parts of the finished steps, and the builder of the step in progress. */
  #parts: MessagePart[] = [];
  #step: StreamPartsBuilder | null = null;
  #writes: Promise<unknown> = Promise.resolve();
  #lastWriteAt: number;
  #dirty = false;
  #partialQueued = false;
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  #renewTimer: ReturnType<typeof setInterval> | undefined;
  /** Until when the final write is retried while the database is away (see #settle). */
  #settleUntil = 0;
  #unlistenStop: () => void = () => undefined;
  #resolveDone: () => void = () => undefined;
  /** Settles when the reply is stored (or the run gave it up) and its last chunk published. */
  readonly done: Promise<void>;

  constructor(deps: ChatRunDeps, turn: ChatRunTurn) {
    this.#deps = deps;
    this.#turn = turn;
    this.runId = turn.reply.runId!;
    this.#lastWriteAt = turn.reply.createdAt;
    this.done = new Promise<void>((resolve) => (this.#resolveDone = resolve));
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Publishes the first chunks (`start`, `data-byok-turn`), so subscribers find the run. */
  async open(): Promise<void> {
    const { reply, userMessage, sessionId } = this.#turn;
    this.#unlistenStop = this.#deps.hub.onStop(this.runId, () => this.stop('cancelled'));
    await this.#emit([{ type: 'start', messageId: reply.id }, turnChunk({ sessionId, reply, userMessage })]);
  }

  /**
   * Streams the reply with `apiKey` and stores it; resolves when done. Never throws: a
   * failure ends the reply as `error` with its code.
   */
  async run(apiKey: string): Promise<void> {
    const renewEvery = Math.max(50, Math.floor(this.#deps.leaseMs / 3));
    this.#renewTimer = setInterval(() => this.#renew(renewEvery), renewEvery);
    this.#renewTimer.unref?.();
    try {
      await this.#produce(apiKey);
    } finally {
      this.#resolveDone();
    }
  }

  /** Ends the live reply early; it is stored `incomplete` with what it has (`done` settles then). */
  stop(reason: RunStopReason): void {
    if (this.#ended) {
      // Storing the end already: give up waiting for a database that is away (close()).
      if (reason === 'aborted') this.#settleUntil = 0;
      return;
    }
    if (this.#stopReason !== null) return;
    this.#stopReason = reason;
    this.#abort.abort();
  }

  async #produce(apiKey: string): Promise<void> {
    const { clock, provider, maxSteps } = this.#deps;
    const turn = this.#turn;
    const startedAt = turn.reply.createdAt;
    const counts = { ...ZERO };
    let totalTokens = 0;
    let finishReason: FinishReason | null = null;
    let rawFinishReason: string | undefined;
    let model = turn.model;
    let firstTokenAt: number | null = null;
    let steps = 0;
    let failure: { code: string; message: string; retryAfterMs?: number } | null = null;
    const messages: LlmMessage[] = [];
    try {
      messages.push(...(await turn.loadMessages()));
      for (;;) {
        this.#throwIfStopped();
        steps += 1;
        const builder = new StreamPartsBuilder();
        this.#step = builder;
        await this.#emit(this.#writer.startStep());
        const request = {
          model: turn.model,
          ...(turn.systemPrompt ? { systemPrompt: turn.systemPrompt } : {}),
          messages: [...messages],
          ...(turn.toolDefinitions.length > 0 ? { tools: turn.toolDefinitions } : {}),
        };
        let finished = false;
        for await (const event of this.#stream(apiKey, request)) {
          if (event.type === 'finish') {
            finished = true;
            counts.inputTokens += event.usage.inputTokens;
            counts.outputTokens += event.usage.outputTokens;
            counts.reasoningTokens += event.usage.reasoningTokens ?? 0;
            counts.cachedInputTokens += event.usage.cachedInputTokens ?? 0;
            totalTokens += event.usage.totalTokens;
            finishReason = event.finishReason;
            rawFinishReason = event.rawFinishReason;
            model = event.model || model;
            continue;
          }
          firstTokenAt ??= clock.now();
          builder.add(event);
          if (event.type === 'text-delta') await this.#emit(this.#writer.text(event.text));
          else if (event.type === 'reasoning-delta') await this.#emit(this.#writer.reasoning(event.text));
          else await this.#emit(this.#writer.toolCall(event));
          this.#markDirty();
        }
        this.#throwIfStopped();
        if (!finished) throw new ByokError('provider_network_error', 'The provider stream ended before the reply was finished');
        const stepParts = builder.parts();
        this.#parts.push(...stepParts);
        this.#step = null;
        const calls = stepParts.filter((p): p is ToolCallPart => p.type === 'tool-call');
        if (calls.length === 0) break;
        const results = await this.#runTools(calls);
        for (const result of results) {
          this.#parts.push(result);
          await this.#emit(this.#writer.toolResult(result));
        }
        await this.#emit(this.#writer.endStep());
        this.#markDirty();
        messages.push(...replyToLlmMessages([...stepParts, ...results]));
        if (steps >= maxSteps) break;
      }
    } catch (error) {
      if (!this.#lost && this.#stopReason === null) {
        const e = toByokError(error);
        const retryAfterMs = e.details?.retryAfterMs;
        failure = { code: e.code, message: e.message, ...(typeof retryAfterMs === 'number' ? { retryAfterMs } : {}) };
        if (e.code === 'internal') this.#deps.logger.error({ err: error, runId: this.runId }, 'byok chat: a reply failed');
      }
    }
    await this.#finish({
      counts,
      usage: {
        ...counts,
        totalTokens: totalTokens || counts.inputTokens + counts.outputTokens,
        provider: provider.id,
        model,
        finishReason: failure || this.#stopReason ? null : finishReason,
        ...(rawFinishReason !== undefined && !failure && !this.#stopReason ? { rawFinishReason } : {}),
        timeToFirstTokenMs: firstTokenAt === null ? null : Math.max(0, firstTokenAt - startedAt),
        durationMs: Math.max(0, clock.now() - startedAt),
        steps,
      },
      failure,
    });
  }

  /**
   * The provider's stream for one step. A call that fails to connect before anything
   * arrived (a reset of a kept-alive connection the server was closing, a refused
   * connection) is made once more: nothing of it reached the reader, and the user should
   * not lose a turn to a stale socket. A timeout, an answer with an error status, or a
   * failure after the first event is not retried.
   */
  async *#stream(apiKey: string, request: Parameters<LlmProvider['stream']>[1]): AsyncGenerator<StreamEvent> {
    // One client span per provider call, on the GenAI semantic conventions: the model, the
    // token usage and the finish reason; never the messages, never the key.
    const provider = this.#deps.provider.id;
    const span = startSpan(`chat ${request.model}`, { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': provider, 'gen_ai.request.model': request.model }, 'client');
    try {
      for await (const event of this.#attempts(apiKey, request)) {
        if (event.type === 'finish') {
          span.setAttributes({
            'gen_ai.response.model': event.model || request.model,
            'gen_ai.response.finish_reasons': [event.rawFinishReason ?? event.finishReason],
            'gen_ai.usage.input_tokens': event.usage.inputTokens,
            'gen_ai.usage.output_tokens': event.usage.outputTokens,
          });
        }
        yield event;
      }
    } catch (error) {
      span.fail(error);
      throw error;
    } finally {
      span.end();
    }
  }

  async *#attempts(apiKey: string, request: Parameters<LlmProvider['stream']>[1]): AsyncGenerator<StreamEvent> {
    for (let attempt = 1; ; attempt += 1) {
      let received = false;
      try {
        for await (const event of this.#deps.provider.stream(apiKey, request, { signal: this.#abort.signal })) {
          received = true;
          yield event;
        }
        return;
      } catch (error) {
        const retry =
          attempt === 1 &&
          !received &&
          !this.#abort.signal.aborted &&
          isByokError(error) &&
          error.code === 'provider_network_error' &&
          error.details?.timeout !== true;
        if (!retry) throw error;
        this.#deps.logger.warn({ err: error, runId: this.runId }, 'byok chat: the provider call failed to connect; trying once more');
      }
    }
  }

  async #runTools(calls: ToolCallPart[]): Promise<ToolResultPart[]> {
    const { userId, sessionId, reply, tools } = this.#turn;
    return Promise.all(
      calls.map((call) => runToolCall(tools, call, { userId, sessionId, messageId: reply.id, toolCallId: call.toolCallId, signal: this.#abort.signal })),
    );
  }

  async #finish(input: { counts: ChatUsageCounts; usage: ReplyUsage; failure: { code: string; message: string; retryAfterMs?: number } | null }): Promise<void> {
    const { store, clock, hub, logger, streamSlot } = this.#deps;
    const { userId, reply } = this.#turn;
    this.#ended = true;
    clearTimeout(this.#saveTimer);
    clearInterval(this.#renewTimer);
    this.#unlistenStop();
    const status: ChatUsageReport['status'] = input.failure ? 'error' : this.#stopReason ? 'incomplete' : 'complete';
    const errorCode = input.failure?.code ?? this.#stopReason;
    // What the reply has, every call paired: an open call (stopped or failed mid-tool) gets
    // a cancelled result, on the row and on the stream.
    const parts = [...this.#parts, ...(this.#step?.parts() ?? [])];
    const closing: UiMessageChunk[] = [];
    for (const call of openToolCalls(parts)) {
      const result = cancelledResult(call, status === 'error' ? 'error' : (this.#stopReason ?? 'cancelled'));
      parts.push(result);
      closing.push(...this.#writer.toolResult(result));
    }
    closing.push(...this.#writer.endStep());
    let end: UiMessageChunk[];
    const text = partsText(parts);
    try {
      await this.#writes;
      if (this.#lost) throw new LostRow();
      await this.#settle(async (retry) => {
        const now = clock.now();
        try {
          await this.#storeEnd(parts, text, status, errorCode, input, now);
        } catch (error) {
          // A retry after a commit whose answer was lost finds the row already ended: ours if it
          // holds exactly this reply (recovery would have ended it lease_expired).
          if (!(error instanceof LostRow) || !retry) throw error;
          const row = await store.chatMessages.get(userId, reply.id);
          if (!row || row.runId !== this.runId || row.status !== status || row.errorCode !== errorCode || row.text !== text) throw error;
        }
      });
      end = endChunks({
        status,
        errorCode,
        usage: input.usage as unknown as JsonValue,
        ...(input.failure ? { errorText: input.failure.message } : {}),
        ...(input.failure?.retryAfterMs !== undefined ? { retryAfterMs: input.failure.retryAfterMs } : {}),
      });
    } catch (error) {
      if (error instanceof LostRow) {
        // Stopped and stored by recovery, or deleted with its session: nothing more to store.
        end = [{ type: 'abort' }];
      } else {
        const e = toByokError(error);
        logger.error({ err: error, runId: this.runId }, 'byok chat: could not store a finished reply');
        end = endChunks({ status: 'error', errorCode: e.code, usage: null, errorText: 'The reply could not be stored' });
      }
    }
    await this.#emit([...closing, ...end]);
    this.#report(status, input);
    await hub.end(this.runId).catch((err: unknown) => logger.error({ err, runId: this.runId }, 'byok chat: run hub end failed'));
    await streamSlot.release().catch((err: unknown) => logger.warn({ err }, 'byok chat: could not release a stream slot'));
  }

  /** The final write: the reply row ended and the session's usage totals, in one transaction. */
  async #storeEnd(parts: MessagePart[], text: string, status: ChatUsageReport['status'], errorCode: string | null, input: { counts: ChatUsageCounts; usage: ReplyUsage }, now: number): Promise<void> {
    const { store } = this.#deps;
    const { userId, sessionId, reply } = this.#turn;
    await store.transaction(async (tx) => {
      // The session row first, as every chat transaction locks it first: no deadlock.
      if (!(await tx.chatSessions.addUsage(userId, sessionId, input.counts, now))) throw new LostRow();
      const stored = await tx.chatMessages.updateRun(userId, reply.id, this.runId, {
        text,
        parts: JSON.stringify(parts),
        status,
        errorCode,
        leaseExpiresAt: null,
        usage: JSON.stringify(input.usage),
        usageCounts: input.counts,
        tokenEstimate: estimateTokens(parts),
        updatedAt: now,
      });
      if (!stored) throw new LostRow();
    });
  }

  /**
   * Runs the final write; while the database is away (a restart, a failover, a network cut)
   * it tries again, backing off, for up to a lease, so a reply that finished streaming then
   * is stored whole once the database answers. Every write is conditional on this run still
   * holding the row, so a retry cannot overwrite what recovery stored meanwhile. A stop
   * while it waits (the service closing) lets the attempt in progress be the last.
   */
  async #settle(write: (retry: boolean) => Promise<void>): Promise<void> {
    const { logger, leaseMs } = this.#deps;
    this.#settleUntil = Date.now() + leaseMs;
    for (let attempt = 0, delay = 100; ; attempt++, delay = Math.min(delay * 2, 1_000)) {
      try {
        return await write(attempt > 0);
      } catch (error) {
        if (toByokError(error).code !== 'database_unavailable' || Date.now() + delay > this.#settleUntil) throw error;
        if (attempt === 0) logger.warn({ err: error, runId: this.runId }, 'byok chat: the database is away; retrying to store a finished reply');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Tells the metrics (and the host's hook) what the reply used. */
  #report(status: ChatUsageReport['status'], input: { counts: ChatUsageCounts; usage: ReplyUsage }): void {
    const { provider, onUsage, logger } = this.#deps;
    const { userId, sessionId, reply } = this.#turn;
    recordTokenUsage({ provider: provider.id, model: input.usage.model }, input.counts);
    if (!onUsage) return;
    try {
      onUsage({ userId, sessionId, messageId: reply.id, provider: provider.id, model: input.usage.model, status, ...input.counts });
    } catch (err) {
      logger.warn({ err }, 'byok chat: the onUsage hook threw');
    }
  }

  #throwIfStopped(): void {
    if (this.#abort.signal.aborted) throw new Error('stopped');
  }

  async #emit(chunks: UiMessageChunk[]): Promise<void> {
    for (const chunk of chunks) {
      this.#position += 1;
      const event: ChatEvent = { runId: this.runId, position: this.#position, chunk };
      try {
        await this.#deps.hub.publish(event);
      } catch (err) {
        this.#deps.logger.error({ err, runId: this.runId }, 'byok chat: run hub publish failed');
      }
    }
  }

  /** Schedules a partial save: at most one per `partialSaveMs`, each with the newest parts. */
  #markDirty(): void {
    this.#dirty = true;
    if (this.#saveTimer !== undefined || this.#ended) return;
    const wait = Math.max(0, this.#deps.partialSaveMs - (this.#deps.clock.now() - this.#lastWriteAt));
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      this.#savePartial();
    }, wait);
    this.#saveTimer.unref?.();
  }

  #savePartial(): void {
    if (!this.#dirty || this.#ended || this.#partialQueued) return;
    // One partial save waits at a time, and it takes the newest parts when its turn comes:
    // when the database is slow, saves coalesce instead of queueing up and then running
    // back to back (closer together than partialSaveMs).
    this.#partialQueued = true;
    this.#write(() => {
      this.#partialQueued = false;
      this.#dirty = false;
      const parts = [...this.#parts, ...(this.#step?.parts() ?? [])];
      return { text: partsText(parts), parts: JSON.stringify(parts), tokenEstimate: estimateTokens(parts) };
    });
  }

  /** Renews the lease (and the stream slot) when nothing was written for a while. */
  #renew(every: number): void {
    if (this.#ended) return;
    this.#deps.streamSlot.renew().catch((err: unknown) => this.#deps.logger.warn({ err }, 'byok chat: could not renew a stream slot'));
    if (this.#deps.clock.now() - this.#lastWriteAt >= every) this.#write({});
  }

  /** One run-owned write, after the ones before it; every write renews the lease and reads the stop flag. */
  #write(next: WritePatch | (() => WritePatch)): void {
    const { store, clock, leaseMs, logger } = this.#deps;
    const { userId, reply } = this.#turn;
    this.#writes = this.#writes.then(async () => {
      const patch = typeof next === 'function' ? next() : next;
      if (this.#ended && patch.parts !== undefined) return;
      const now = clock.now();
      this.#lastWriteAt = now;
      try {
        const row = await store.chatMessages.updateRun(userId, reply.id, this.runId, { ...patch, leaseExpiresAt: now + leaseMs, updatedAt: now });
        if (!row) {
          this.#lost = true;
          this.#abort.abort();
        } else if (row.stopRequestedAt !== null) {
          this.stop('cancelled');
        }
      } catch (err) {
        // A failed partial save is retried by the next one; the lease covers the gap.
        logger.warn({ err, runId: this.runId }, 'byok chat: a partial save failed');
      }
    });
  }
}

/** The columns a run's own write sets (besides its lease). */
type WritePatch = { text?: string; parts?: string; tokenEstimate?: number };

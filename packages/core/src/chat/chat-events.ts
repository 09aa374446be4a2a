/**
 * What a chat turn streams. byok speaks the AI SDK's UI message stream protocol (v1, the
 * v5 chunk types) natively: a turn yields these chunks, each at a numbered position of
 * its run, and the HTTP layer only writes them as SSE (`id: <runId>:<position>:<offset>`,
 * `data: <chunk JSON>`, then `data: [DONE]`); the tRPC layer yields the same chunks with
 * `tracked()` ids. `useChat` from `ai` 5.x and 6.x parses them as they are.
 *
 * byok's own facts ride in `data-byok-*` chunks: `data-byok-turn` (the stored user
 * message, the assistant message id, run id and seqs) first, `data-byok-usage` at the end.
 */

/** The JSON value types a chunk may carry. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** One chunk of the UI message stream (v5 chunk types only, so AI SDK 5 and 6 both parse it). */
export type UiMessageChunk =
  | { type: 'start'; messageId?: string; messageMetadata?: JsonValue }
  | { type: 'start-step' }
  | { type: 'finish-step' }
  | { type: 'text-start'; id: string; providerMetadata?: Record<string, Record<string, JsonValue>> }
  | { type: 'text-delta'; id: string; delta: string }
  | { type: 'text-end'; id: string }
  | { type: 'reasoning-start'; id: string; providerMetadata?: Record<string, Record<string, JsonValue>> }
  | { type: 'reasoning-delta'; id: string; delta: string }
  | { type: 'reasoning-end'; id: string }
  | { type: 'tool-input-start'; toolCallId: string; toolName: string }
  | { type: 'tool-input-delta'; toolCallId: string; inputTextDelta: string }
  | { type: 'tool-input-available'; toolCallId: string; toolName: string; input: JsonValue }
  | { type: 'tool-output-available'; toolCallId: string; output: JsonValue }
  | { type: 'tool-output-error'; toolCallId: string; errorText: string }
  | { type: `data-byok-${string}`; id?: string; data: JsonValue; transient?: boolean }
  | { type: 'message-metadata'; messageMetadata: JsonValue }
  | { type: 'error'; errorText: string }
  | { type: 'abort' }
  | { type: 'finish'; messageMetadata?: JsonValue };

/** One chunk at its place in a run: positions start at 1 and grow by 1 per chunk. */
export interface ChatEvent {
  runId: string;
  position: number;
  /**
   * How much of the reply a reader has after this chunk (each chunk counts 1, a text or
   * reasoning delta its length, a closing chunk 0): set on the events the chat service yields, and part of
   * their SSE id, so a resume gets exactly the rest from a live run or from the store.
   */
  offset?: number;
  /** For a closing chunk (`text-end`, `finish`, `abort` …): which one after that offset, from 1. */
  closing?: number;
  chunk: UiMessageChunk;
}

/**
 * Where a run's chunks live while it streams, so a reconnect (`Last-Event-ID`) gets exactly
 * the rest, on this instance or another, and where `stop` reaches the run's owner. The
 * default keeps them in process; with Redis they go to a Redis Stream per run (and stop
 * requests over pub/sub), so any instance can resume or stop any run.
 */
export interface ChatRunHub {
  /** The owner publishes each chunk of its run, in position order. */
  publish(event: ChatEvent): Promise<void>;
  /** The owner marks its run ended (after publishing `finish`/`error`); the log expires after `ttlMs`. */
  end(runId: string): Promise<void>;
  /**
   * Every chunk after `afterPosition` (0: all), then the live tail until the run ends or
   * `signal` aborts. `undefined` when this hub knows nothing of the run (ended and expired,
   * or never here): the caller then answers from the stored message.
   */
  subscribe(runId: string, afterPosition: number, signal?: AbortSignal): Promise<AsyncIterable<ChatEvent> | undefined>;
  /** Asks the owner of a run to stop it; true when some owner heard it. */
  requestStop(runId: string): Promise<boolean>;
  /** The owner listens for stop requests of its run; returns the unsubscribe function. */
  onStop(runId: string, listener: () => void): () => void;
  close(): Promise<void>;
}

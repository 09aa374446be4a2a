import type { MessagePart, ToolCallPart, ToolResultPart } from '../llm/message-parts';
import type { ChatMessageRow } from '../store/chat-repositories';
import type { JsonValue, UiMessageChunk } from './chat-events';

/**
 * Turns a reply into UI message stream chunks (AI SDK v5 chunk types), the same way for a
 * live run and for a stored reply: each text or reasoning part is `*-start`, its deltas
 * and `*-end` under an id numbered in order (`text-0`, `reasoning-1`, …); a tool call is
 * `tool-input-available`, its result `tool-output-available` (or `tool-output-error`); a
 * step (one provider call) is framed by `start-step` / `finish-step`. Provider metadata
 * (e.g. thought signatures) stays on the server: the stored history is the truth.
 */
export class ReplyChunkWriter {
  #open: { kind: 'text' | 'reasoning'; id: string } | null = null;
  #inStep = false;
  #next = 0;

  /** Starts a step (closing nothing; a step ends with {@link endStep}). */
  startStep(): UiMessageChunk[] {
    if (this.#inStep) return [];
    this.#inStep = true;
    return [{ type: 'start-step' }];
  }

  /** Text of the answer; `newPart` starts a part even when a text part is open. */
  text(delta: string, newPart = false): UiMessageChunk[] {
    return this.#delta('text', delta, newPart);
  }

  reasoning(delta: string, newPart = false): UiMessageChunk[] {
    return this.#delta('reasoning', delta, newPart);
  }

  toolCall(call: Pick<ToolCallPart, 'toolCallId' | 'toolName' | 'args'>): UiMessageChunk[] {
    const out = [...this.startStep(), ...this.#close()];
    out.push({ type: 'tool-input-available', toolCallId: call.toolCallId, toolName: call.toolName, input: toJson(call.args) });
    return out;
  }

  toolResult(result: Pick<ToolResultPart, 'toolCallId' | 'result' | 'isError'>): UiMessageChunk[] {
    const out = [...this.startStep(), ...this.#close()];
    if (result.isError === true) out.push({ type: 'tool-output-error', toolCallId: result.toolCallId, errorText: errorText(result.result) });
    else out.push({ type: 'tool-output-available', toolCallId: result.toolCallId, output: toJson(result.result) });
    return out;
  }

  /** Ends the open part and the step. */
  endStep(): UiMessageChunk[] {
    if (!this.#inStep) return [];
    const out = this.#close();
    this.#inStep = false;
    out.push({ type: 'finish-step' });
    return out;
  }

  #delta(kind: 'text' | 'reasoning', delta: string, newPart: boolean): UiMessageChunk[] {
    const out = this.startStep();
    if (this.#open === null || this.#open.kind !== kind || newPart) {
      if (delta === '') return out;
      out.push(...this.#close());
      const id = `${kind}-${this.#next++}`;
      this.#open = { kind, id };
      out.push(kind === 'text' ? { type: 'text-start', id } : { type: 'reasoning-start', id });
    }
    if (delta !== '') out.push(kind === 'text' ? { type: 'text-delta', id: this.#open.id, delta } : { type: 'reasoning-delta', id: this.#open.id, delta });
    return out;
  }

  #close(): UiMessageChunk[] {
    const open = this.#open;
    if (open === null) return [];
    this.#open = null;
    return [open.kind === 'text' ? { type: 'text-end', id: open.id } : { type: 'reasoning-end', id: open.id }];
  }
}

/**
 * The chunks of stored parts, in order: the steps as the reply took them (a step ends
 * after its tool results).
 */
export function partsChunks(writer: ReplyChunkWriter, parts: readonly MessagePart[]): UiMessageChunk[] {
  return appendedPartsChunks(writer, [], parts);
}

/**
 * The chunks that take a reader from the stored parts `previous` (already sent through
 * `writer`) to `next`, the same reply saved later: the rest of the last part's text, then
 * every part added. A partial save only ever appends, so `previous` is a prefix of `next`.
 */
export function appendedPartsChunks(writer: ReplyChunkWriter, previous: readonly MessagePart[], next: readonly MessagePart[]): UiMessageChunk[] {
  const out: UiMessageChunk[] = [];
  const last = previous.length - 1;
  const grown = last >= 0 ? next[last] : undefined;
  const before = previous[last];
  if (grown && before && (grown.type === 'text' || grown.type === 'reasoning') && grown.type === before.type && grown.text.length > before.text.length) {
    const delta = grown.text.slice(before.text.length);
    out.push(...(grown.type === 'text' ? writer.text(delta) : writer.reasoning(delta)));
  }
  let afterResults = before?.type === 'tool-result';
  for (const part of next.slice(previous.length)) {
    if (afterResults && part.type !== 'tool-result') out.push(...writer.endStep());
    afterResults = part.type === 'tool-result';
    if (part.type === 'text') out.push(...writer.text(part.text, true));
    else if (part.type === 'reasoning') out.push(...writer.reasoning(part.text, true));
    else if (part.type === 'tool-call') out.push(...writer.toolCall(part));
    else out.push(...writer.toolResult(part));
  }
  return out;
}

/** byok's facts about a turn, the first `data-byok-turn` chunk of every reply stream. */
export function turnChunk(input: { sessionId: string; reply: ChatMessageRow; userMessage: ChatMessageRow | null }): UiMessageChunk {
  const user = input.userMessage;
  return {
    type: 'data-byok-turn',
    id: 'byok-turn',
    data: {
      sessionId: input.sessionId,
      runId: input.reply.runId,
      assistantMessageId: input.reply.id,
      assistantSeq: input.reply.seq,
      parentId: input.reply.parentId,
      userMessage:
        user === null
          ? null
          : { id: user.id, seq: user.seq, parentId: user.parentId, clientMessageId: user.clientMessageId, text: user.text, createdAt: user.createdAt },
    },
  };
}

/**
 * The last chunks of a reply by how it ended: `data-byok-usage` (status, error code and
 * usage), then `finish` (usage as message metadata) for a complete reply, `abort` for an
 * incomplete one, or `error` for a failed one.
 */
export function endChunks(input: { status: ChatMessageRow['status']; errorCode: string | null; usage: JsonValue | null; errorText?: string; retryAfterMs?: number }): UiMessageChunk[] {
  // A failure that waiting cures (a provider's rate limit) says when to try again.
  const data: JsonValue = { status: input.status, errorCode: input.errorCode, usage: input.usage, ...(input.retryAfterMs !== undefined ? { retryAfterMs: input.retryAfterMs } : {}) };
  const out: UiMessageChunk[] = [{ type: 'data-byok-usage', id: 'byok-usage', data }];
  if (input.status === 'complete') out.push({ type: 'finish', messageMetadata: { usage: input.usage } });
  else if (input.status === 'error') out.push({ type: 'error', errorText: input.errorText ?? `The reply failed (${input.errorCode ?? 'error'})` });
  else out.push({ type: 'abort' });
  return out;
}

/**
 * The chunks of a stored reply, deterministically: the same stored message always gives
 * the same chunks (and so the same bytes on the wire). A reply still streaming gives its
 * parts so far and no end; the caller follows the live tail.
 */
export function storedReplyChunks(input: { sessionId: string; reply: ChatMessageRow; userMessage: ChatMessageRow | null; writer?: ReplyChunkWriter }): {
  chunks: UiMessageChunk[];
  writer: ReplyChunkWriter;
} {
  const { reply } = input;
  const writer = input.writer ?? new ReplyChunkWriter();
  const chunks: UiMessageChunk[] = [{ type: 'start', messageId: reply.id }, turnChunk(input)];
  const parts = JSON.parse(reply.parts) as MessagePart[];
  chunks.push(...partsChunks(writer, parts));
  if (reply.status === 'streaming') return { chunks, writer };
  chunks.push(...writer.endStep());
  chunks.push(...endChunks({ status: reply.status, errorCode: reply.errorCode, usage: reply.usage === null ? null : (JSON.parse(reply.usage) as JsonValue) }));
  return { chunks, writer };
}

/** Any value as JSON (what JSON.stringify keeps; undefined becomes null). */
export function toJson(value: unknown): JsonValue {
  const text = JSON.stringify(value ?? null);
  return text === undefined ? null : (JSON.parse(text) as JsonValue);
}

function errorText(result: unknown): string {
  if (typeof result === 'string') return result;
  if (typeof result === 'object' && result !== null && typeof (result as { error?: unknown }).error === 'string') return (result as { error: string }).error;
  return JSON.stringify(result ?? null) ?? 'error';
}

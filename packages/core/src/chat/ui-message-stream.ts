import { ByokError, isByokError } from '../errors';
import type { ByokResponse, SseEvent } from '../http/types';
import type { ChatEvent, UiMessageChunk } from './chat-events';
import { formatRunEventId } from './run-event-id';

/**
 * The response headers of the AI SDK's UI message stream, exactly as `ai` sends them
 * (`UI_MESSAGE_STREAM_HEADERS` in `ai` 5 and 6). `x-accel-buffering: no` keeps nginx from
 * holding the stream back.
 */
export const UI_MESSAGE_STREAM_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-vercel-ai-ui-message-stream': 'v1',
  'x-accel-buffering': 'no',
});

/** What ends a stream whose producer failed: the AI SDK's `error` chunk, with a message safe to show. */
function errorChunk(error: unknown): UiMessageChunk {
  const e = isByokError(error) ? error : new ByokError('internal', 'Internal error');
  return { type: 'error', errorText: e.message };
}

/**
 * Writes chat events as the AI SDK writes a UI message stream (`JsonToSseTransformStream`):
 * one `data: <chunk JSON>` per chunk, no `event:` line (the AI SDK reads only `data`), each
 * with `id: <runId>:<position>:<offset>` for `Last-Event-ID`, and `data: [DONE]` at the end. If the
 * producer fails, an `error` chunk (without an id: it is no position of the run) ends the
 * stream before `[DONE]`, so the client sees a protocol error instead of a broken stream.
 * Closing the stream, even before its first event, closes the producer.
 */
export function uiMessageSseEvents(events: AsyncIterable<ChatEvent>): AsyncIterable<SseEvent> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<SseEvent> {
      const source = events[Symbol.asyncIterator]();
      let state: 'open' | 'failed' | 'closed' = 'open';
      return {
        async next(): Promise<IteratorResult<SseEvent>> {
          if (state === 'closed') return { done: true, value: undefined };
          if (state === 'failed') {
            state = 'closed';
            return { done: false, value: DONE };
          }
          try {
            const result = await source.next();
            if (!result.done) return { done: false, value: { id: formatRunEventId(result.value), data: result.value.chunk } };
            state = 'closed';
            return { done: false, value: DONE };
          } catch (error) {
            state = 'failed';
            return { done: false, value: { data: errorChunk(error) } };
          }
        },
        async return(): Promise<IteratorResult<SseEvent>> {
          const wasOpen = state === 'open';
          state = 'closed';
          if (wasOpen) await source.return?.();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

const DONE: SseEvent = Object.freeze({ data: '[DONE]', raw: true });

/**
 * A raw operation's answer carrying a UI message stream: status 200, the AI SDK's headers
 * and the events as SSE. The first event is awaited here, so a turn refused before it
 * streams (a chat turn throws from its first `next()`: not found, rate limited, no key …)
 * is the operation's HTTP error, not a 200 stream carrying an error.
 */
export async function uiMessageStreamResponse(options: { events: AsyncIterable<ChatEvent>; status?: number; headers?: Record<string, string> }): Promise<
  Pick<ByokResponse, 'status' | 'headers' | 'stream'>
> {
  const source = options.events[Symbol.asyncIterator]();
  const first = await source.next();
  let pending: IteratorResult<ChatEvent> | undefined = first;
  const started: AsyncIterable<ChatEvent> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        const result = pending ?? (await source.next());
        pending = undefined;
        return result;
      },
      return: async () => {
        pending = undefined;
        await source.return?.();
        return { done: true, value: undefined };
      },
    }),
  };
  return {
    status: options.status ?? 200,
    headers: { ...UI_MESSAGE_STREAM_HEADERS, ...options.headers },
    stream: uiMessageSseEvents(started),
  };
}

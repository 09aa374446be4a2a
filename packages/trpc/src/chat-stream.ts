import { ByokError, type UiMessageChunk } from '@byok/core';
import type { ByokResponse, SseEvent } from '@byok/core/http';
import type { ByokChatStreamEvent } from './router-types';

/**
 * The events of a streamed operation's answer (the AI SDK UI message stream as core
 * writes it over SSE) as tRPC yields them: each chunk with its position id, without the
 * SSE-only `[DONE]` terminator. An `error` chunk without an id — the producer failed
 * mid-stream — ends the iteration with that error, which tRPC sends in the stream.
 * Leaving the loop early (the client went away) closes the producer.
 */
export async function* chatStreamEvents(response: Pick<ByokResponse, 'stream'>): AsyncGenerator<ByokChatStreamEvent, void, undefined> {
  if (!response.stream) return;
  for await (const event of response.stream) {
    if (event.raw) continue;
    if (event.id === undefined) throw new ByokError('internal', failureText(event));
    yield { id: event.id, data: event.data as UiMessageChunk };
  }
}

function failureText(event: SseEvent): string {
  const chunk = event.data as Partial<Extract<UiMessageChunk, { type: 'error' }>> | null;
  return typeof chunk?.errorText === 'string' ? chunk.errorText : 'The stream failed';
}

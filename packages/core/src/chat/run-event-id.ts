import { ByokError } from '../errors';
import { isUuid } from '../util/ids';
import type { ChatEvent, UiMessageChunk } from './chat-events';

/**
 * The SSE `id` of a chat event: `<runId>:<position>:<offset>`. A reply's run id is its
 * assistant message id (one row, one run), so a `Last-Event-ID` names the message it
 * resumes. The position numbers the run's chunks as its producer sent them; the offset
 * (see {@link withReplyOffsets}) says how much of the reply a reader has, independently
 * of how the text was cut into deltas, so a reader gets exactly the rest even from the
 * stored reply, whose deltas are not the ones the provider streamed.
 *
 * @example
 * formatRunEventId({ runId: '0190a6f1-7c1e-7000-8000-000000000001', position: 7, offset: 42 }) // '0190a6f1-7c1e-7000-8000-000000000001:7:42'
 */
export function formatRunEventId(event: { runId: string; position: number; offset?: number | undefined }): string {
  return `${event.runId}:${event.position}:${event.offset ?? event.position}`;
}

/** Reads a `Last-Event-ID`; anything byok did not send is `validation_failed`. */
export function parseRunEventId(value: string): { runId: string; position: number; offset: number } {
  const match = /^([0-9a-f-]{36}):(\d{1,9}):(\d{1,12})$/.exec(value.trim());
  if (!match || !isUuid(match[1])) throw new ByokError('validation_failed', 'The last event id is not one byok sent');
  return { runId: match[1]!, position: Number(match[2]), offset: Number(match[3]) };
}

/** How much of a reply one chunk is: a text or reasoning delta its length, any other chunk 1. */
function chunkWeight(chunk: UiMessageChunk): number {
  return chunk.type === 'text-delta' || chunk.type === 'reasoning-delta' ? chunk.delta.length : 1;
}

/** Chunks that close what came before them: the end of a part, of a step, of the reply. */
const CLOSING = new Set<UiMessageChunk['type']>(['text-end', 'reasoning-end', 'finish-step', 'data-byok-usage', 'finish', 'abort', 'error']);

/**
 * A run's events from its first chunk, each with its offset: the sum of the weights of the
 * chunks up to and including it. A live run and the same reply regenerated from the store
 * give the same chunks apart from where the text is cut into deltas, so an offset means
 * the same point of the reply in both. With `after`, only what follows that point: whole
 * chunks past it, and the rest of a delta it falls inside.
 *
 * A reader can be past the end of the stored reply: it saw text its producer streamed but
 * died before saving. It then still gets the reply's closing chunks (its end, and how it
 * ended), so it learns the reply stopped, instead of a bare end of stream.
 */
export async function* withReplyOffsets(events: AsyncIterable<ChatEvent>, after?: number): AsyncGenerator<ChatEvent> {
  let offset = 0;
  let closing: ChatEvent[] = [];
  for await (const event of events) {
    const start = offset;
    offset += chunkWeight(event.chunk);
    if (after === undefined || start >= after) {
      yield { ...event, offset };
      continue;
    }
    if (offset <= after) {
      // The closing chunks after the last content the reader is past, kept in case the
      // stored reply ends before the reader's offset.
      if (CLOSING.has(event.chunk.type)) closing.push(event);
      else closing = [];
      continue;
    }
    const chunk = event.chunk;
    // Only a delta weighs more than 1, so only a delta can straddle `after`.
    if (chunk.type === 'text-delta' || chunk.type === 'reasoning-delta') yield { ...event, offset, chunk: { ...chunk, delta: chunk.delta.slice(after - start) } };
  }
  if (after !== undefined && offset < after) {
    let next = after;
    for (const event of closing) yield { ...event, offset: ++next };
  }
}

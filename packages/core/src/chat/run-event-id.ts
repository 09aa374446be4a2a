import { ByokError } from '../errors';
import { isUuid } from '../util/ids';
import type { ChatEvent, UiMessageChunk } from './chat-events';

/**
 * The SSE `id` of a chat event: `<runId>:<position>:<offset>`, or `…:<offset>.<k>` for the
 * k-th closing chunk after that offset. A reply's run id is its assistant message id (one
 * row, one run), so a `Last-Event-ID` names the message it resumes. The position numbers
 * the run's chunks as its producer sent them; the offset (see {@link withReplyOffsets})
 * says how much of the reply a reader has, independently of how the text was cut into
 * deltas, so a reader gets exactly the rest even from the stored reply, whose deltas are
 * not the ones the provider streamed.
 *
 * @example
 * formatRunEventId({ runId: '0190a6f1-7c1e-7000-8000-000000000001', position: 7, offset: 42 }) // '0190a6f1-7c1e-7000-8000-000000000001:7:42'
 */
export function formatRunEventId(event: { runId: string; position: number; offset?: number | undefined; closing?: number | undefined }): string {
  const closing = event.closing ? `.${event.closing}` : '';
  return `${event.runId}:${event.position}:${event.offset ?? event.position}${closing}`;
}

/** Reads a `Last-Event-ID`; anything byok did not send is `validation_failed`. */
export function parseRunEventId(value: string): { runId: string; position: number; offset: number; closing: number } {
  const match = /^([0-9a-f-]{36}):(\d{1,9}):(\d{1,12})(?:\.(\d{1,4}))?$/.exec(value.trim());
  if (!match || !isUuid(match[1])) throw new ByokError('validation_failed', 'The last event id is not one byok sent');
  return { runId: match[1]!, position: Number(match[2]), offset: Number(match[3]), closing: match[4] === undefined ? 0 : Number(match[4]) };
}

/** Chunks that close what came before them: the end of a part, of a step, of the reply. They add nothing to the offset. */
const CLOSING = new Set<UiMessageChunk['type']>(['text-end', 'reasoning-end', 'finish-step', 'data-byok-usage', 'finish', 'abort', 'error']);

/** How much of a reply one chunk is: a text or reasoning delta its length, a closing chunk nothing, any other chunk 1. */
function chunkWeight(chunk: UiMessageChunk): number {
  if (chunk.type === 'text-delta' || chunk.type === 'reasoning-delta') return chunk.delta.length;
  return CLOSING.has(chunk.type) ? 0 : 1;
}

/**
 * A run's events from its first chunk, each with its offset (the weight of the content up
 * to and including it) and, for a closing chunk, its place among the closing chunks after
 * that content. A live run and the same reply rebuilt from the store give the same chunks
 * apart from where the text is cut into deltas, so an offset means the same point of the
 * reply in both. With `after`, only what follows that point: the content past it (the rest
 * of a delta it falls inside), and the closing chunks the reader did not have.
 *
 * A reader can be past the end of the stored content: it saw text its producer streamed but
 * died before saving. It then still gets the stored reply's closing chunks (its end, and how
 * it ended, e.g. `abort`), numbered after its own place, instead of a bare end of stream.
 */
export async function* withReplyOffsets(events: AsyncIterable<ChatEvent>, after?: { offset: number; closing: number }): AsyncGenerator<ChatEvent> {
  let offset = 0;
  let closing = 0;
  // The closing chunks after content the reader is past: sent at the end if the content stops short of it.
  let tail: ChatEvent[] = [];
  for await (const event of events) {
    const chunk = event.chunk;
    if (CLOSING.has(chunk.type)) {
      closing += 1;
      const placed: ChatEvent = { ...event, offset, closing };
      if (after === undefined || offset > after.offset || (offset === after.offset && closing > after.closing)) yield placed;
      else if (offset < after.offset) tail.push(placed);
      continue;
    }
    const start = offset;
    offset += chunkWeight(chunk);
    closing = 0;
    tail = [];
    if (after === undefined || start >= after.offset) {
      yield { ...event, offset };
      continue;
    }
    // Only a delta weighs more than 1, so only a delta can straddle the reader's offset.
    if (offset > after.offset && (chunk.type === 'text-delta' || chunk.type === 'reasoning-delta')) {
      yield { ...event, offset, chunk: { ...chunk, delta: chunk.delta.slice(after.offset - start) } };
    }
  }
  if (after !== undefined && offset < after.offset) {
    for (let i = 0; i < tail.length; i += 1) if (i + 1 > after.closing) yield { ...tail[i]!, offset: after.offset, closing: i + 1 };
  }
}

import { ByokError, isByokError } from '../errors';
import type { ByokResponse, SseEvent } from '../http/types';
import type { ChatEvent, UiMessageChunk } from './chat-events';

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

/** The place in a run an SSE `id` names: every chunk up to and including `position` was received. */
export interface RunPosition {
  runId: string;
  position: number;
}

const RUN_ID = /^[A-Za-z0-9_-]{1,128}$/;
const POSITION = /^(?:0|[1-9][0-9]{0,14})$/;

/** The SSE `id` of a chat event: `<runId>:<position>`, what a client sends back as `Last-Event-ID`. */
export function chatEventId(event: Pick<ChatEvent, 'runId' | 'position'>): string {
  return `${event.runId}:${event.position}`;
}

/**
 * Reads a `Last-Event-ID` header written by {@link chatEventId}. Absent or empty: undefined.
 *
 * @throws ByokError `bad_request` for anything byok did not write
 */
export function parseLastEventId(value: string | undefined): RunPosition | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  const colon = trimmed.lastIndexOf(':');
  const runId = colon === -1 ? '' : trimmed.slice(0, colon);
  const position = colon === -1 ? '' : trimmed.slice(colon + 1);
  if (!RUN_ID.test(runId) || !POSITION.test(position)) {
    throw new ByokError('bad_request', 'Last-Event-ID is not an event id of this stream');
  }
  return { runId, position: Number(position) };
}

/** What ends a stream whose producer failed: the AI SDK's `error` chunk, with a message safe to show. */
function errorChunk(error: unknown): UiMessageChunk {
  const e = isByokError(error) ? error : new ByokError('internal', 'Internal error');
  return { type: 'error', errorText: e.message };
}

/**
 * Writes chat events as the AI SDK writes a UI message stream (`JsonToSseTransformStream`):
 * one `data: <chunk JSON>` per chunk, no `event:` line (the AI SDK reads only `data`), each
 * with `id: <runId>:<position>` for `Last-Event-ID`, and `data: [DONE]` at the end. If the
 * producer fails, an `error` chunk (without an id: it is no position of the run) ends the
 * stream before `[DONE]`, so the client sees a protocol error instead of a broken stream.
 */
export async function* uiMessageSseEvents(events: AsyncIterable<ChatEvent>): AsyncGenerator<SseEvent> {
  try {
    for await (const event of events) {
      yield { id: chatEventId(event), data: event.chunk };
    }
  } catch (error) {
    yield { data: errorChunk(error) };
  }
  yield { data: '[DONE]', raw: true };
}

/**
 * A raw operation's answer carrying a UI message stream: status 200, the AI SDK's headers
 * and the events as SSE.
 */
export function uiMessageStreamResponse(options: { events: AsyncIterable<ChatEvent>; status?: number; headers?: Record<string, string> }): Pick<
  ByokResponse,
  'status' | 'headers' | 'stream'
> {
  return {
    status: options.status ?? 200,
    headers: { ...UI_MESSAGE_STREAM_HEADERS, ...options.headers },
    stream: uiMessageSseEvents(options.events),
  };
}

import type { UiMessageChunk } from '@byok/core';
import { ByokClientError, errorFromResponse, isByokClientError } from './client-error';
import { sseEvents } from './sse-events';

/** How a broken chat stream is picked up again. */
export interface ReconnectOptions {
  /** Reconnects in a row without a new event before giving up with `stream_interrupted` (default 5; 0: never). */
  maxAttempts?: number;
  /** The first wait; it doubles per attempt (default 250 ms). */
  initialDelayMs?: number;
  /** The longest wait (default 5 000 ms). */
  maxDelayMs?: number;
}

/** How the stream gets a new response after a break: `lastEventId` is the last event it delivered, if any. */
export type Reopen = (lastEventId: string | undefined, signal: AbortSignal) => Promise<Response>;

/**
 * Reads the AI SDK's UI message stream (`data: <chunk JSON>` events with `id:
 * <runId>:<position>:<offset>`, ended by `data: [DONE]`) as a stream of chunks. When the connection
 * breaks before `[DONE]` it reopens — with the last event's id as `Last-Event-ID`, so the
 * server sends exactly the rest — waiting longer after each failed attempt, within
 * `maxAttempts`. `controller` is the one the first request was sent
 * under (linked to the caller's signal): cancelling the stream aborts it, and an abort ends
 * the stream with the abort's reason.
 */
export function uiMessageChunkStream(options: {
  response: Response;
  reopen: Reopen;
  controller: AbortController;
  reconnect?: ReconnectOptions | false | undefined;
}): ReadableStream<UiMessageChunk> {
  const reconnect = options.reconnect === false ? { maxAttempts: 0 } : (options.reconnect ?? {});
  const maxAttempts = reconnect.maxAttempts ?? 5;
  const initialDelayMs = reconnect.initialDelayMs ?? 250;
  const maxDelayMs = reconnect.maxDelayMs ?? 5_000;
  const cancel = options.controller;
  const signal = cancel.signal;

  async function* chunks(): AsyncGenerator<UiMessageChunk> {
    let response = options.response;
    let lastEventId: string | undefined;
    let attempts = 0;
    for (;;) {
      let done = false;
      try {
        if (!response.body) throw new ByokClientError({ code: 'invalid_response', status: response.status, message: 'The stream has no body' });
        for await (const event of sseEvents(response.body)) {
          if (event.data === '[DONE]') {
            done = true;
            break;
          }
          const chunk = parseChunk(event.data, response.status);
          // As in EventSource, the last id seen stays the one to send back (an error chunk carries none).
          if (event.id !== undefined) lastEventId = event.id;
          attempts = 0;
          yield chunk;
        }
      } catch (error) {
        if (signal.aborted) throw abortReason(signal);
        if (isByokClientError(error)) throw error;
        // The connection broke: reconnect below.
      }
      if (done) return;
      for (;;) {
        if (attempts >= maxAttempts) {
          throw new ByokClientError({ code: 'stream_interrupted', status: 0, message: `The stream broke and did not resume after ${attempts} attempts` });
        }
        await sleep(Math.min(maxDelayMs, initialDelayMs * 2 ** attempts), signal);
        attempts += 1;
        try {
          response = await options.reopen(lastEventId, signal);
        } catch (error) {
          if (signal.aborted) throw abortReason(signal);
          if (isByokClientError(error) && error.code === 'network_error') continue;
          throw error;
        }
        if (response.status >= 500) {
          await response.body?.cancel().catch(() => undefined);
          continue;
        }
        if (response.status === 204) return;
        if (!response.ok) throw await errorFromResponse(response);
        break;
      }
    }
  }

  const iterator = chunks();
  return new ReadableStream<UiMessageChunk>({
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel(reason) {
      cancel.abort(reason);
      await iterator.return(undefined).catch(() => undefined);
    },
  });
}

function parseChunk(data: string, status: number): UiMessageChunk {
  let chunk: unknown;
  try {
    chunk = JSON.parse(data);
  } catch {
    chunk = undefined;
  }
  if (typeof chunk !== 'object' || chunk === null || typeof (chunk as { type?: unknown }).type !== 'string') {
    throw new ByokClientError({ code: 'invalid_response', status, message: 'The stream sent an event that is not a UI message chunk' });
  }
  return chunk as UiMessageChunk;
}

/** An AbortController that also aborts when `parent` does. */
export function linkedController(parent: AbortSignal | undefined): AbortController {
  const controller = new AbortController();
  if (parent) {
    if (parent.aborted) controller.abort(parent.reason);
    else parent.addEventListener('abort', () => controller.abort(parent.reason), { once: true });
  }
  return controller;
}

/** What an aborted signal throws: its reason, or a DOMException `AbortError` as fetch throws. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

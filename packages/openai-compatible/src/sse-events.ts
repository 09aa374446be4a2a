/** One server-sent event: its `event:` name (undefined when it has none) and its data. */
export interface SseEvent {
  event?: string;
  data: string;
}

/**
 * Reads a `text/event-stream` body into events: the `data` (multi-line data joined with
 * `\n`) and the `event` name; comments and other fields skipped. Accepts `\n`, `\r\n` and
 * `\r` line ends. Each `onChunk` call lets the caller restart an idle timer.
 */
export async function* sseEvents(body: ReadableStream<Uint8Array>, onChunk?: () => void): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let data: string[] = [];
  let event: string | undefined;
  const take = (): SseEvent => {
    const out: SseEvent = { data: data.join('\n'), ...(event !== undefined ? { event } : {}) };
    data = [];
    event = undefined;
    return out;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      onChunk?.();
      buffer += decoder.decode(value, { stream: true });
      for (;;) {
        const match = /\r\n|\n|\r/.exec(buffer);
        if (!match) break;
        // A lone '\r' at the very end may be the first half of '\r\n': wait for more.
        if (match[0] === '\r' && match.index === buffer.length - 1) break;
        const line = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        if (line === '') {
          if (data.length > 0) yield take();
          data = [];
          event = undefined;
        } else if (line.startsWith('data:')) {
          data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
        } else if (line.startsWith('event:')) {
          event = line.slice(line.startsWith('event: ') ? 7 : 6);
        }
      }
    }
    buffer += decoder.decode();
    if (buffer.startsWith('data:')) data.push(buffer.slice(buffer.startsWith('data: ') ? 6 : 5));
    if (data.length > 0) yield take();
  } finally {
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

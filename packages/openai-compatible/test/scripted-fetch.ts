/** A fetch that answers from a script and records what it was asked. */
export function scriptedFetch(answer: (url: string, init: RequestInit) => Response) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fn = (async (input: string | URL | Request, init: RequestInit = {}) => {
    calls.push({ url: String(input), init });
    return answer(String(input), init);
  }) as typeof fetch;
  return { fetch: fn, calls };
}

/** An SSE answer: each entry is one event's `data` (or a raw event when it starts with `event:`). */
export function sse(events: string[], status = 200): Response {
  const body = events.map((e) => (e.startsWith('event:') ? `${e}\n\n` : `data: ${e}\n\n`)).join('');
  return new Response(body, { status, headers: { 'content-type': 'text/event-stream' } });
}

/** One `chat.completion.chunk` with a single choice. */
export function chunk(delta: Record<string, unknown>, finishReason: string | null = null): string {
  return JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finishReason }] });
}

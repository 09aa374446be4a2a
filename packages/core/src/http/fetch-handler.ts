import { ByokError, isByokError } from '../errors';
import { serializeCookie } from './cookies';
import { INVALID_JSON, errorResponse } from './http-handler';
import { DEFAULT_BODY_LIMIT, formatSse, type ByokHandler } from './node-http';
import type { ByokRequest, ByokResponse, SseEvent } from './types';

/** Options of {@link toFetchHandler}. */
export interface FetchHandlerOptions {
  /**
   * The path byok is mounted under, stripped before routing: `/api` when the host routes
   * `/api/*` to the handler. A request outside it is `not_found`. Default: the root.
   */
  basePath?: string;
  /** Largest accepted request body; default 1 MiB, as on the Node adapters. */
  bodyLimitBytes?: number;
}

/** What a web `Request` does not carry and the host may know. */
export interface FetchRequestInfo {
  /**
   * The TCP peer's address, from which (with `trustProxy`) the client IP for rate limits
   * and the audit trail is derived. Without it every request counts as the same unknown
   * client. Bun: `server.requestIP(req)?.address`; Deno: `info.remoteAddr.hostname`;
   * `@hono/node-server`: `getConnInfo(c).remote.address`.
   */
  remoteAddress?: string | undefined;
}

/** A web-standard handler: a `Request` in, a `Response` out (event streams as a `ReadableStream`). */
export type FetchHandler = (request: Request, info?: FetchRequestInfo) => Promise<Response>;

// As the Node path reads bodies: JSON only (`application/json`, `application/*+json`).
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\b/i;

/**
 * byok's HTTP surface as a web-standard handler, for hosts built on `Request` and
 * `Response`: Hono, Next.js route handlers (`export const GET = handler, POST = handler,
 * …` in `app/api/[...byok]/route.ts` with `basePath: '/api'`), `Bun.serve({ fetch })` and
 * `Deno.serve()`. The handler's signal is the request's signal, so a client that goes
 * away aborts it; bodies are bounded in size (and in JSON depth by the surface) as on the
 * Node adapters; event streams are answered as a `ReadableStream` that stops its
 * producer when the client cancels.
 *
 * @example
 * import { Hono } from 'hono';
 * import { serve } from '@hono/node-server';
 * import { getConnInfo } from '@hono/node-server/conninfo';
 * import { toFetchHandler } from '@byok/core/http';
 *
 * const handler = toFetchHandler(byok, { basePath: '/api' });
 * const hono = new Hono();
 * hono.all('/api/*', (c) => handler(c.req.raw, { remoteAddress: getConnInfo(c).remote.address }));
 * serve({ fetch: hono.fetch, port: 3000 });
 */
export function toFetchHandler(byok: { http: ByokHandler }, options: FetchHandlerOptions = {}): FetchHandler {
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');
  const limit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT;
  return async (request, info = {}) => {
    let byokRequest: ByokRequest;
    try {
      byokRequest = await toByokRequest(request, info, basePath, limit);
    } catch (error) {
      const refused = errorResponse(error);
      // The rest of a body refused as too large is never read: end the connection rather
      // than leave the unread bytes in front of the client's next request on it.
      if (isByokError(error) && error.code === 'payload_too_large') refused.headers.connection = 'close';
      return toResponse(refused);
    }
    let response: ByokResponse;
    try {
      response = await byok.http.handle(byokRequest);
    } catch (error) {
      response = errorResponse(error);
    }
    // A stream nobody reads (a HEAD, a client already gone) is cancelled by the server,
    // which ends its producer through the stream's cancel.
    return toResponse(response);
  };
}

async function toByokRequest(request: Request, info: FetchRequestInfo, basePath: string, limit: number): Promise<ByokRequest> {
  const url = new URL(request.url);
  let path = url.pathname;
  if (basePath) {
    if (path !== basePath && !path.startsWith(`${basePath}/`)) throw new ByokError('not_found', 'No such endpoint');
    path = path.slice(basePath.length) || '/';
  }
  const headers: Record<string, string | undefined> = {};
  // Headers joins repeated fields with ", " itself; set-cookie is a response header.
  for (const [name, value] of request.headers) if (name !== 'set-cookie') headers[name] = value;
  const method = request.method.toUpperCase();
  const body = method !== 'GET' && method !== 'HEAD' && request.body ? await readJsonBody(request, limit) : undefined;
  const out: ByokRequest = { method, url: `${path}${url.search}`, headers, body, remoteAddress: info.remoteAddress };
  // Only streaming operations read the signal, and some servers (@hono/node-server) make an
  // AbortController the first time `request.signal` is read: read it when it is asked for.
  Object.defineProperty(out, 'signal', { enumerable: true, configurable: true, get: () => request.signal });
  return out;
}

async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const tooLarge = () => new ByokError('payload_too_large', 'The request body is too large');
  if (Number(request.headers.get('content-length') ?? '0') > limit) {
    await request.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const reader = request.body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  if (size === 0) return undefined;
  if (!JSON_TYPE.test(request.headers.get('content-type') ?? '')) {
    throw new ByokError('bad_request', 'The request body must be application/json');
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return { [INVALID_JSON]: true };
  }
}

function toResponse(response: ByokResponse): Response {
  const headers = new Headers(response.headers);
  for (const cookie of response.cookies) headers.append('set-cookie', serializeCookie(cookie));
  if (response.redirect !== undefined) {
    headers.set('location', response.redirect);
    return new Response(null, { status: response.status >= 300 && response.status < 400 ? response.status : 302, headers });
  }
  if (response.stream) {
    // A protocol's own headers win (the AI SDK's UI message stream names its exact ones).
    if (!headers.has('content-type')) headers.set('content-type', 'text/event-stream; charset=utf-8');
    if (!headers.has('cache-control')) headers.set('cache-control', 'no-store');
    if (!headers.has('x-accel-buffering')) headers.set('x-accel-buffering', 'no');
    return new Response(eventStream(response.stream), { status: response.status, headers });
  }
  if (response.status === 204 || (response.body === undefined && response.text === undefined)) {
    return new Response(null, { status: response.status, headers });
  }
  let payload: string;
  if (response.text !== undefined) {
    if (!headers.has('content-type')) headers.set('content-type', 'text/plain; charset=utf-8');
    payload = response.text;
  } else {
    headers.set('content-type', 'application/json; charset=utf-8');
    payload = JSON.stringify(response.body);
  }
  // A HEAD's body is dropped by the runtime's server, as HTTP requires.
  return new Response(payload, { status: response.status, headers });
}

/** The events as SSE bytes, produced as the client reads; a cancel (the client left) ends the producer. */
function eventStream(stream: AsyncIterable<SseEvent>): ReadableStream<Uint8Array> {
  const iterator = stream[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  let finished = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (finished) return;
          if (next.done) {
            finished = true;
            controller.close();
            return;
          }
          controller.enqueue(encoder.encode(formatSse(next.value)));
        } catch (error) {
          if (finished) return;
          finished = true;
          controller.enqueue(encoder.encode(formatSse({ event: 'error', data: errorResponse(error).body })));
          controller.close();
        }
      },
      async cancel() {
        if (finished) return;
        finished = true;
        await iterator.return?.();
      },
    },
    // Produce an event only when the client asks for one: no read-ahead past a slow reader.
    { highWaterMark: 0 },
  );
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ByokError } from '../errors';
import { serializeCookie } from './cookies';
import { INVALID_JSON, errorResponse } from './http-handler';
import type { ByokRequest, ByokResponse, SseEvent } from './types';

/** What an adapter hands to byok: anything with `handle(request)` (a `byok.http`). */
export interface ByokHandler {
  handle(request: ByokRequest): Promise<ByokResponse>;
}

export interface NodeRequestOptions {
  /** The path relative to byok's mount point (Express: `req.url` inside a router). Default `req.url`. */
  url?: string;
  /** A body the framework already parsed; otherwise the stream is read here. */
  parsedBody?: unknown;
  /** Largest accepted body; default 1 MiB. */
  bodyLimitBytes?: number;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * Runs the whole Node request lifecycle once, for every Node adapter: reads the request
 * (parsing a JSON body unless the framework already did), lets byok handle it, and
 * writes the response or streams it. The handler's `signal` aborts only when the client
 * goes away before the response has finished — the response's `close` before its
 * `finish` — never because the request body was fully read (Node then marks the request
 * destroyed, which is not a disconnect).
 *
 * @example
 * import { createServer } from 'node:http';
 * import { handleNodeRequest } from '@byok/core/http';
 * createServer((req, res) => void handleNodeRequest(byok.http, req, res));
 */
export async function handleNodeRequest(
  handler: ByokHandler,
  req: IncomingMessage,
  res: ServerResponse,
  options: NodeRequestOptions = {},
): Promise<void> {
  const controller = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new ByokError('aborted', 'The client went away'));
  };
  res.once('close', onClose);
  let response: ByokResponse;
  try {
    response = await handler.handle(await readNodeRequest(req, controller.signal, options));
  } catch (error) {
    response = errorResponse(error);
  }
  if (controller.signal.aborted) {
    // Nobody is listening any more: let a stream's producer run its cleanup.
    if (response.stream) await release(response.stream);
    return;
  }
  try {
    await writeNodeResponse(res, response, req.method === 'HEAD');
  } finally {
    res.off('close', onClose);
  }
}

/**
 * A complete Node request listener for byok's HTTP surface, for plain `node:http`
 * servers.
 *
 * @example
 * import { createServer } from 'node:http';
 * import { nodeListener } from '@byok/core/http';
 * createServer(nodeListener(byok.http)).listen(3000);
 */
export function nodeListener(handler: ByokHandler, options: Omit<NodeRequestOptions, 'url' | 'parsedBody'> = {}) {
  return (req: IncomingMessage, res: ServerResponse): Promise<void> => handleNodeRequest(handler, req, res, options);
}

async function readNodeRequest(req: IncomingMessage, signal: AbortSignal, options: NodeRequestOptions): Promise<ByokRequest> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name === 'set-cookie') continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  let body = options.parsedBody;
  if (body === undefined && req.method !== 'GET' && req.method !== 'HEAD') {
    if (!req.readableEnded) body = await readJsonBody(req, options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT);
    // A body another parser already read (a host's express.urlencoded(), say) is still a
    // body: if it was not JSON, it is refused as if byok had read it.
    else if (declaresBody(req) && !JSON_TYPE.test(req.headers['content-type'] ?? '')) throw new ByokError('bad_request', 'The request body must be application/json');
  }
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    url: options.url ?? req.url ?? '/',
    headers,
    body,
    remoteAddress: req.socket.remoteAddress,
    signal,
  };
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\b/i;

function declaresBody(req: IncomingMessage): boolean {
  return Number(req.headers['content-length'] ?? '0') > 0 || req.headers['transfer-encoding'] !== undefined;
}

async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) throw new ByokError('payload_too_large', 'The request body is too large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ByokError('payload_too_large', 'The request body is too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  const type = req.headers['content-type'] ?? '';
  if (!JSON_TYPE.test(type)) {
    throw new ByokError('bad_request', 'The request body must be application/json');
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return { [INVALID_JSON]: true };
  }
}

/** Writes a ByokResponse to a Node response, including redirects and event streams. */
async function writeNodeResponse(res: ServerResponse, response: ByokResponse, head: boolean): Promise<void> {
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  if (response.cookies.length) res.setHeader('set-cookie', response.cookies.map(serializeCookie));
  if (response.redirect !== undefined) {
    res.statusCode = response.status >= 300 && response.status < 400 ? response.status : 302;
    res.setHeader('location', response.redirect);
    res.end();
    return;
  }
  if (response.stream) {
    await writeEventStream(res, response.status, response.stream);
    return;
  }
  res.statusCode = response.status;
  if (response.text !== undefined && response.status !== 204) {
    if (!res.hasHeader('content-type')) res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(response.text));
    res.end(head ? undefined : response.text);
    return;
  }
  if (response.body === undefined || response.status === 204) {
    res.end();
    return;
  }
  const payload = JSON.stringify(response.body);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(payload));
  res.end(head ? undefined : payload);
}

/** Formats one event as Server-Sent Events text. */
export function formatSse(event: SseEvent): string {
  let out = '';
  if (event.event) out += `event: ${event.event}\n`;
  if (event.id) out += `id: ${event.id}\n`;
  out += `data: ${typeof event.data === 'string' && event.raw ? event.data : JSON.stringify(event.data)}\n\n`;
  return out;
}

async function writeEventStream(res: ServerResponse, status: number, stream: AsyncIterable<SseEvent>): Promise<void> {
  res.statusCode = status;
  // A protocol's own headers win (the AI SDK's UI message stream names its exact ones).
  if (!res.hasHeader('content-type')) res.setHeader('content-type', 'text/event-stream; charset=utf-8');
  if (!res.hasHeader('cache-control')) res.setHeader('cache-control', 'no-store');
  if (!res.hasHeader('x-accel-buffering')) res.setHeader('x-accel-buffering', 'no');
  res.flushHeaders();
  const iterator = stream[Symbol.asyncIterator]();
  let closed = false;
  let wake: (() => void) | null = null;
  const onClose = () => {
    closed = true;
    wake?.();
  };
  res.once('close', onClose);
  try {
    while (!closed) {
      const next = await iterator.next();
      if (next.done) break;
      if (closed) break;
      if (!res.write(formatSse(next.value))) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          res.once('drain', resolve);
        });
        wake = null;
      }
    }
  } catch (error) {
    if (!closed) res.write(formatSse({ event: 'error', data: errorResponse(error).body }));
  } finally {
    res.off('close', onClose);
    if (closed) await iterator.return?.();
    if (!res.writableEnded) res.end();
  }
}

async function release(stream: AsyncIterable<SseEvent>): Promise<void> {
  const iterator = stream[Symbol.asyncIterator]();
  await iterator.return?.();
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ByokError } from '../errors';
import { serializeCookie } from './cookies';
import { INVALID_JSON, errorResponse } from './http-handler';
import type { ByokRequest, ByokResponse, SseEvent } from './types';

export interface ReadNodeRequestOptions {
  /** The path relative to byok's mount point (Express: `req.url` inside a router). */
  url?: string;
  /** A body the framework already parsed; otherwise the stream is read here. */
  parsedBody?: unknown;
  /** Largest accepted body; default 1 MiB. */
  bodyLimitBytes?: number;
}

/**
 * Converts a Node request into a ByokRequest, reading and parsing a JSON body when the
 * framework has not. Adapters for node-based frameworks are built on this and
 * {@link writeNodeResponse}.
 */
export async function readNodeRequest(req: IncomingMessage, options: ReadNodeRequestOptions = {}): Promise<ByokRequest> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name === 'set-cookie') continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const controller = new AbortController();
  req.once('close', () => {
    if (!req.complete || req.destroyed) controller.abort();
  });
  let body = options.parsedBody;
  if (body === undefined && req.method !== 'GET' && req.method !== 'HEAD' && !req.readableEnded) {
    body = await readJsonBody(req, options.bodyLimitBytes ?? 1024 * 1024);
  }
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    url: options.url ?? req.url ?? '/',
    headers,
    body,
    remoteAddress: req.socket.remoteAddress,
    signal: controller.signal,
  };
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
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
    throw new ByokError('bad_request', 'The request body must be application/json');
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return { [INVALID_JSON]: true };
  }
}

/** Writes a ByokResponse to a Node response, including redirects and event streams. */
export async function writeNodeResponse(res: ServerResponse, response: ByokResponse): Promise<void> {
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
  if (response.body === undefined || response.status === 204) {
    res.end();
    return;
  }
  const payload = JSON.stringify(response.body);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(payload));
  res.end(payload);
}

/** Formats one event as Server-Sent Events text. */
export function formatSse(event: SseEvent): string {
  let out = '';
  if (event.event) out += `event: ${event.event}\n`;
  if (event.id) out += `id: ${event.id}\n`;
  out += `data: ${JSON.stringify(event.data)}\n\n`;
  return out;
}

async function writeEventStream(res: ServerResponse, status: number, stream: AsyncIterable<SseEvent>): Promise<void> {
  res.statusCode = status;
  res.setHeader('content-type', 'text/event-stream; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-accel-buffering', 'no');
  res.flushHeaders();
  const iterator = stream[Symbol.asyncIterator]();
  let closed = false;
  const onClose = () => {
    closed = true;
    void iterator.return?.();
  };
  res.once('close', onClose);
  try {
    while (!closed) {
      const next = await iterator.next();
      if (next.done) break;
      if (!res.write(formatSse(next.value))) await new Promise<void>((resolve) => res.once('drain', resolve));
    }
  } catch (error) {
    if (!closed) res.write(formatSse({ event: 'error', data: errorResponse(error).body }));
  } finally {
    res.off('close', onClose);
    if (!res.writableEnded) res.end();
  }
}

/**
 * A complete Node request listener for byok's HTTP surface, for plain `node:http`
 * servers and as the base of framework adapters.
 *
 * @example
 * http.createServer(nodeListener(byok.http)).listen(3000);
 */
export function nodeListener(surface: { handle(request: ByokRequest): Promise<ByokResponse> }) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let response: ByokResponse;
    try {
      response = await surface.handle(await readNodeRequest(req));
    } catch (error) {
      response = errorResponse(error);
    }
    await writeNodeResponse(res, response);
  };
}

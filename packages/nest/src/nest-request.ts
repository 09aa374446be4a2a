import type { IncomingMessage } from 'node:http';
import type { ByokRequest } from '@byok/core/http';

/** The request as Nest's Express platform hands it over: a Node request plus what Express adds. */
export type NestHttpRequest = IncomingMessage & { body?: unknown; originalUrl?: string; route?: { path?: unknown } };

/** The headers, method and peer of a host request in byok's neutral shape (no body: guards do not need one). */
export function toByokRequest(req: NestHttpRequest): ByokRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name === 'set-cookie') continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { method: (req.method ?? 'GET').toUpperCase(), url: req.originalUrl ?? req.url ?? '/', headers, remoteAddress: req.socket.remoteAddress };
}

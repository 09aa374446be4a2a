import { ByokClientError } from './client-error';
import type { Route } from './routes';

/** The URL and body of one operation's request, from its route and its input. */
export interface BuiltRequest {
  url: string;
  body: string | undefined;
}

/**
 * Places an operation's input the way core's HTTP surface reads it: `:params` in the path,
 * the rest in the query for GET and DELETE, else as a JSON body.
 */
export function buildRequest(options: { baseUrl: string; route: Route; input: unknown }): BuiltRequest {
  const { route } = options;
  const rest: Record<string, unknown> = { ...((options.input ?? {}) as Record<string, unknown>) };
  const path = route.path.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => {
    const value = rest[name];
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new ByokClientError({ code: 'validation_failed', status: 0, message: `Invalid input (${name}: required in the path)` });
    }
    delete rest[name];
    return encodeURIComponent(String(value));
  });
  const base = options.baseUrl.replace(/\/+$/, '');
  if (route.method === 'GET' || route.method === 'DELETE') {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(rest)) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (item === undefined || item === null) continue;
        query.append(key, typeof item === 'object' ? JSON.stringify(item) : String(item));
      }
    }
    const search = query.toString();
    return { url: `${base}${path}${search ? `?${search}` : ''}`, body: undefined };
  }
  return { url: `${base}${path}`, body: JSON.stringify(rest) };
}

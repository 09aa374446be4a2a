import { z } from 'zod';
import { ByokError, isByokError } from '../errors';
import type { Logger } from '../util/logger';
import { parseCookieHeader } from './cookies';
import type { RateLimitClass } from './rate-limit/rate-limiter';
import { MAX_JSON_DEPTH, exceedsJsonDepth } from './json-depth';
import type { Operation } from './operation';
import { RouteTable } from './route-table';
import type { AuthContext, ByokRequest, ByokResponse, RequestMeta } from './types';
import { telemetryActive, withSpan } from '../util/telemetry';

/** Marker an adapter puts in `body` when the request's JSON did not parse. */
export const INVALID_JSON = Symbol.for('byok.invalid_json');

export interface AuthenticateIntent {
  /** A state-changing method (anything but GET/HEAD/OPTIONS). */
  unsafe: boolean;
  /** The operation answers with an event stream. */
  stream: boolean;
}

export type Authenticate = (request: ByokRequest, intent: AuthenticateIntent) => Promise<AuthContext | null>;
export type RateLimitCheck = (limitClass: RateLimitClass, key: { ip: string | null; userId: string | null }) => Promise<void>;

export interface HttpHandlerOptions {
  authenticate: Authenticate;
  rateLimit?: RateLimitCheck;
  clientIp: (request: ByokRequest) => string | null;
  logger: Logger;
}

/** The framework-neutral HTTP surface: a route table plus one `handle(request)`. */
export interface HttpSurface {
  /** Adds an operation; names and (method, path) pairs are unique. */
  add(operation: Operation): void;
  operations(): Operation[];
  handle(request: ByokRequest): Promise<ByokResponse>;
  /** Whether some operation serves this path (any method); adapters fall through otherwise. */
  routes(url: string): boolean;
  /** Runs one operation with already-parsed input (used by the tRPC adapter). */
  call(operation: Operation, rawInput: unknown, request: ByokRequest): Promise<unknown>;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function createHttpSurface(options: HttpHandlerOptions): HttpSurface {
  const table = new RouteTable();

  async function prepare(operation: Operation, rawInput: unknown, request: ByokRequest) {
    if (exceedsJsonDepth(rawInput)) {
      throw new ByokError('bad_request', `The request body nests deeper than ${MAX_JSON_DEPTH} levels`);
    }
    const meta: RequestMeta = { ip: options.clientIp(request), userAgent: request.headers['user-agent']?.slice(0, 512) ?? null };
    let auth: AuthContext | null = null;
    if (operation.auth !== 'none') {
      auth = await options.authenticate(request, {
        unsafe: !SAFE_METHODS.has(operation.http.method),
        stream: operation.kind === 'raw' && operation.produces === 'event-stream',
      });
      if (!auth && operation.auth === 'required') throw new ByokError('unauthenticated', 'Sign in to continue');
    }
    if (operation.rateLimit && options.rateLimit) {
      await options.rateLimit(operation.rateLimit, { ip: meta.ip, userId: auth?.userId ?? null });
    }
    const parsed = safeParseInput(operation, rawInput);
    if (!parsed.success) throw validationError(parsed.error);
    return { input: parsed.data, auth, meta, response: { cookies: [], headers: {} }, request };
  }

  async function call(operation: Operation, rawInput: unknown, request: ByokRequest): Promise<unknown> {
    const ctx = await prepare(operation, rawInput, request);
    const result = await operation.handler(ctx as never);
    if (operation.kind === 'json') return operation.output.parse(result);
    return result;
  }

  /** One server span per request when OpenTelemetry is there, named by the route template. */
  async function handle(request: ByokRequest): Promise<ByokResponse> {
    if (!telemetryActive()) return respond(request);
    const { pathname } = splitUrl(request.url);
    const method = request.method.toUpperCase() === 'HEAD' ? 'GET' : request.method.toUpperCase();
    const match = table.match(method, pathname);
    const route = match.kind === 'found' ? match.operation.http.path : undefined;
    const attributes = { 'http.request.method': method, ...(route ? { 'http.route': route, 'byok.operation': match.kind === 'found' ? match.operation.name : undefined } : {}) };
    return withSpan(
      route ? `${method} ${route}` : method,
      attributes,
      async (span) => {
        const response = await respond(request);
        span.setAttributes({ 'http.response.status_code': response.status });
        const code = (response.body as { error?: { code?: unknown } } | undefined)?.error?.code;
        if (typeof code === 'string') span.setAttributes({ 'error.type': code });
        return response;
      },
      'server',
    );
  }

  async function respond(request: ByokRequest): Promise<ByokResponse> {
    const { pathname, searchParams } = splitUrl(request.url);
    const method = request.method.toUpperCase() === 'HEAD' ? 'GET' : request.method.toUpperCase();
    const match = table.match(method, pathname);
    try {
      if (match.kind === 'none') throw new ByokError('not_found', 'No such endpoint');
      if (match.kind === 'method_not_allowed') {
        const res = errorResponse(new ByokError('method_not_allowed', `Method not allowed; use ${match.allowed.join(', ')}`));
        return { ...res, headers: { ...res.headers, allow: match.allowed.join(', ') } };
      }
      const operation = match.operation;
      if (!request.cookies) request.cookies = parseCookieHeader(request.headers.cookie);
      const rawInput = gatherInput(operation, request, searchParams, match.params);
      const ctx = await prepare(operation, rawInput, request);
      // Read after the handler ran: it may have added headers (e.g. content-disposition).
      const headers = () => ({ 'cache-control': 'no-store', ...ctx.response.headers });
      if (operation.kind === 'json') {
        const body = operation.output.parse(await operation.handler(ctx as never));
        return { status: operation.http.status ?? 200, headers: headers(), cookies: ctx.response.cookies, body };
      }
      if (operation.kind === 'empty') {
        await operation.handler(ctx as never);
        return { status: operation.http.status ?? 204, headers: headers(), cookies: ctx.response.cookies };
      }
      const raw = await operation.handler(ctx as never);
      return {
        ...raw,
        headers: { ...headers(), ...raw.headers },
        cookies: [...ctx.response.cookies, ...(raw.cookies ?? [])],
      };
    } catch (error) {
      if (!isByokError(error) || error.status >= 500) {
        options.logger.error({ err: error, method, path: pathname }, 'byok request failed');
      }
      return errorResponse(error);
    }
  }

  return {
    add: (operation) => table.add(operation),
    operations: () => table.list(),
    handle,
    call,
    routes: (url) => {
      const { pathname } = splitUrl(url);
      return ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].some((m) => table.match(m, pathname).kind === 'found');
    },
  };
}

/** The error body `{ error: { code, message } }` with the status of its code. */
export function errorResponse(error: unknown): ByokResponse {
  const e = isByokError(error) ? error : new ByokError('internal', 'Internal error');
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  const retryAfterMs = e.details?.retryAfterMs;
  if (typeof retryAfterMs === 'number') headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
  return { status: e.status, headers, cookies: [], body: e.toJSON() };
}

/** Turns a zod failure into a message naming the fields, never echoing their values. */
export function validationError(error: z.ZodError): ByokError {
  const issues = error.issues.slice(0, 5).map((issue) => {
    const path = issue.path.length ? issue.path.join('.') : 'input';
    return `${path}: ${issue.message}`;
  });
  return new ByokError('validation_failed', `Invalid input (${issues.join('; ')})`, {
    details: { fields: error.issues.map((i) => i.path.join('.') || 'input') },
  });
}

function splitUrl(url: string): { pathname: string; searchParams: URLSearchParams } {
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  return { pathname: pathname || '/', searchParams: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)) };
}

function gatherInput(operation: Operation, request: ByokRequest, query: URLSearchParams, params: Record<string, string>): unknown {
  const fromQuery: Record<string, unknown> = {};
  for (const key of new Set(query.keys())) {
    const all = query.getAll(key);
    fromQuery[key] = all.length > 1 ? all : all[0];
  }
  if (operation.http.method === 'GET' || operation.http.method === 'DELETE') {
    if (request.body !== undefined && request.body !== null && typeof request.body === 'object' && INVALID_JSON in request.body) {
      throw new ByokError('bad_request', 'The request body is not valid JSON');
    }
    return { ...fromQuery, ...params };
  }
  const body = request.body;
  if (body !== undefined && body !== null && typeof body === 'object' && INVALID_JSON in body) {
    throw new ByokError('bad_request', 'The request body is not valid JSON');
  }
  if (body === undefined || body === null || body === '') return { ...params };
  if (typeof body !== 'object' || Array.isArray(body)) throw new ByokError('bad_request', 'The request body must be a JSON object');
  return { ...(body as Record<string, unknown>), ...params };
}

/**
 * The operation's input schema over a request body. zod runs some checks (lengths, for one)
 * on a value of the wrong type too, and one shaped to break them (`{ length: { toString:
 * false } }` for a string) makes `safeParse` throw instead of failing: that is a bad input,
 * not a server error.
 */
function safeParseInput(operation: Operation, rawInput: unknown): ReturnType<Operation['input']['safeParse']> {
  try {
    return operation.input.safeParse(rawInput);
  } catch {
    throw new ByokError('validation_failed', 'Invalid input: a value has the wrong type');
  }
}

import type { UiMessageChunk } from '@byok/core';
import type { ByokOperations } from '@byok/core/http';
import { ByokClientError, errorFromResponse, isByokClientError } from './client-error';
import { buildRequest } from './request-builder';
import { BYOK_ROUTES, type Route } from './routes';
import { SessionRefresher } from './session-refresher';
import type { SessionTokens, TokenStore } from './token-store';
import { abortReason, linkedController, uiMessageChunkStream, type ReconnectOptions } from './ui-message-stream';

/**
 * How the client proves who it is. `'cookie'`: the browser's byok cookies, sent with
 * `credentials: 'include'` (refresh rotates them). `{ tokens }`: bearer tokens from a
 * token store, refreshed with the refresh token in the body.
 */
export type ClientAuth = 'cookie' | { tokens: TokenStore };

export interface ByokClientOptions {
  /** Where byok is mounted, e.g. `/api` (same origin) or `https://api.example.com/byok`. */
  baseUrl: string;
  /** Default `'cookie'`. */
  auth?: ClientAuth;
  /** The fetch to use (default `globalThis.fetch`), e.g. one that adds headers or records calls. */
  fetch?: typeof fetch;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** How a broken chat stream reconnects (`false`: never). */
  reconnect?: ReconnectOptions | false;
  /** Called once a refresh has failed: the session has ended and the user must sign in again. */
  onSessionEnded?: (error: ByokClientError) => void;
}

export interface CallOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export interface StreamOptions extends CallOptions {
  /** Overrides the client's `reconnect` for this stream. */
  reconnect?: ReconnectOptions | false;
}

/** Names of the operations answered with JSON, nothing, or a document: what `call` takes. */
export type CallableName<M> = {
  [K in keyof M]: M[K] extends { kind: 'json' | 'empty' } ? K : M[K] extends { produces: 'json' | 'markdown' } ? K : never;
}[keyof M] &
  string;

/** Names of the operations answered with the UI message stream: what `stream` takes. */
export type StreamName<M> = { [K in keyof M]: M[K] extends { produces: 'event-stream' } ? K : never }[keyof M] & string;

/** What an operation takes (before the server's defaults). */
export type InputOf<M, K extends keyof M> = M[K] extends { input: infer I } ? I : never;

/** What `call` resolves to: the JSON output, nothing, or a document's text. */
export type OutputOf<M, K extends keyof M> = M[K] extends { produces: 'markdown' } ? string : M[K] extends { output: infer O } ? O : never;

/** The input is optional when nothing in it is required. */
export type InputArgs<I, O> = {} extends I ? [input?: I, options?: O] : [input: I, options?: O];

/** A typed client of byok's HTTP surface. */
export interface ByokClient<M = ByokOperations> {
  /**
   * Calls one operation by its registry name and resolves with its typed output. A 401
   * refreshes the session once (shared with every call waiting on it) and retries.
   *
   * @throws ByokClientError with the server's `code`, `status` and `message`
   */
  call<K extends CallableName<M>>(name: K, ...args: InputArgs<InputOf<M, K>, CallOptions>): Promise<OutputOf<M, K>>;
  /**
   * Starts an operation answered with the UI message stream (send, edit, regenerate,
   * resume) and resolves once the server accepted it, with the stream of its chunks. A
   * dropped connection resumes with `Last-Event-ID`; the server's refusal rejects.
   */
  stream<K extends StreamName<M>>(name: K, ...args: InputArgs<InputOf<M, K>, StreamOptions>): Promise<ReadableStream<UiMessageChunk>>;
  /** The session's live reply from where it is, or `null` when none streams (204). */
  resume(input: { sessionId: string }, options?: StreamOptions): Promise<ReadableStream<UiMessageChunk> | null>;
  /** The URL to send the browser to for signing in with an issuer. */
  loginUrl(issuer: string, options?: { returnTo?: string; loginHint?: string }): string;
  /** Refreshes the session now (joins a refresh under way). */
  refresh(): Promise<void>;
  /** Signs this session out (its refresh family) and forgets its tokens. */
  signOut(options?: CallOptions): Promise<void>;
}

const NO_REFRESH = new Set(['auth.refresh', 'auth.logout', 'auth.login', 'auth.callback']);
const STARTS_A_TURN = new Set(['chat.messages.send', 'chat.messages.edit', 'chat.messages.regenerate']);

/**
 * Creates a client for byok's HTTP surface, typed from core's operation registry. It runs
 * in browsers and in Node (anything with `fetch` and web streams).
 *
 * @example
 * import { createByokClient } from '@byok/client';
 * const byok = createByokClient({ baseUrl: '/api' });
 * await byok.call('keys.set', { provider: 'gemini', apiKey: 'AIza…' });
 * const { items } = await byok.call('chat.sessions.list');
 * const reply = await byok.stream('chat.messages.send', { sessionId: items[0]!.id, text: 'Hello' });
 * for await (const chunk of reply) if (chunk.type === 'text-delta') console.log(chunk.delta);
 */
export function createByokClient<M = ByokOperations>(options: ByokClientOptions): ByokClient<M> {
  const auth = options.auth ?? 'cookie';
  const tokens = auth === 'cookie' ? null : auth.tokens;
  const fetchImpl = options.fetch ?? ((input: Parameters<typeof fetch>[0], init?: RequestInit) => globalThis.fetch(input, init));
  const routes: Record<string, Route> = BYOK_ROUTES;
  const baseUrl = options.baseUrl;

  const route = (name: string): Route => {
    const found = routes[name];
    if (!found) throw new ByokClientError({ code: 'not_found', status: 0, message: `No operation named ${name}` });
    return found;
  };

  /** One fetch, its failure to connect a `network_error`, an abort as the abort. */
  async function send(url: string, init: RequestInit & { headers: Headers }): Promise<Response> {
    const token = tokens ? await tokens.get() : null;
    if (token) init.headers.set('authorization', `Bearer ${token.accessToken}`);
    try {
      return await fetchImpl(url, { ...init, credentials: tokens ? 'omit' : 'include' });
    } catch (error) {
      if (init.signal?.aborted) throw abortReason(init.signal);
      throw new ByokClientError({ code: 'network_error', status: 0, message: 'The server could not be reached', cause: error });
    }
  }

  function headersOf(extra: Record<string, string> | undefined, body: string | undefined): Headers {
    const headers = new Headers(options.headers);
    for (const [key, value] of Object.entries(extra ?? {})) headers.set(key, value);
    if (body !== undefined) headers.set('content-type', 'application/json');
    return headers;
  }

  async function runRefresh(): Promise<void> {
    const current = tokens ? await tokens.get() : null;
    if (tokens && !current) throw sessionEnded(undefined);
    const body = JSON.stringify(current ? { refreshToken: current.refreshToken } : {});
    const response = await send(`${baseUrl.replace(/\/+$/, '')}${BYOK_ROUTES['auth.refresh'].path}`, {
      method: 'POST',
      headers: headersOf(undefined, body),
      body,
    });
    if (response.ok) {
      const answer = (await response.json().catch(() => ({}))) as Partial<SessionTokens>;
      if (tokens) {
        if (typeof answer.accessToken !== 'string' || typeof answer.refreshToken !== 'string') {
          throw sessionEnded(new ByokClientError({ code: 'invalid_response', status: response.status, message: 'The refresh answer has no tokens' }));
        }
        await tokens.set({
          accessToken: answer.accessToken,
          refreshToken: answer.refreshToken,
          ...(typeof answer.accessTokenExpiresAt === 'number' ? { accessTokenExpiresAt: answer.accessTokenExpiresAt } : {}),
          ...(typeof answer.refreshTokenExpiresAt === 'number' ? { refreshTokenExpiresAt: answer.refreshTokenExpiresAt } : {}),
        });
      }
      return;
    }
    const error = await errorFromResponse(response);
    if (error.code === 'refresh_race') {
      // Another tab (or process sharing the store) rotated the token a moment ago: use what it got.
      if (!tokens) return;
      const now = await tokens.get();
      if (now && current && now.refreshToken !== current.refreshToken) return;
    }
    if (tokens) await tokens.clear();
    throw sessionEnded(error);
  }

  function sessionEnded(cause: ByokClientError | undefined): ByokClientError {
    const error = new ByokClientError({
      code: 'unauthenticated',
      status: 401,
      message: 'The session has ended; sign in again',
      ...(cause ? { cause, details: { refresh: { code: cause.code, status: cause.status } } } : {}),
    });
    options.onSessionEnded?.(error);
    return error;
  }

  const refresher = new SessionRefresher(runRefresh);

  /** Sends an operation's request; a 401 refreshes once and sends it again. */
  async function request(name: string, input: unknown, init: { signal?: AbortSignal | undefined; headers?: Record<string, string> | undefined }): Promise<Response> {
    const { url, body } = buildRequest({ baseUrl, route: route(name), input });
    const attempt = async () => {
      const generation = refresher.generation;
      const response = await send(url, {
        method: route(name).method,
        headers: headersOf(init.headers, body),
        ...(body !== undefined ? { body } : {}),
        ...(init.signal ? { signal: init.signal } : {}),
      });
      return { response, generation };
    };
    const first = await attempt();
    if (first.response.status !== 401 || NO_REFRESH.has(name)) return first.response;
    if (tokens && !(await tokens.get())) return first.response;
    await first.response.body?.cancel().catch(() => undefined);
    await refresher.refresh(first.generation);
    return (await attempt()).response;
  }

  async function call(name: string, input?: unknown, callOptions: CallOptions = {}): Promise<unknown> {
    const response = await request(name, input, callOptions);
    if (!response.ok) throw await errorFromResponse(response);
    if (response.status === 204) return undefined;
    if (route(name).produces === 'markdown') return response.text();
    const text = await response.text();
    if (text === '') return undefined;
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ByokClientError({ code: 'invalid_response', status: response.status, message: 'The server answered something that is not JSON', cause: error });
    }
  }

  async function stream(name: string, input?: unknown, streamOptions: StreamOptions = {}): Promise<ReadableStream<UiMessageChunk> | null> {
    const sessionId = (input as { sessionId?: unknown } | undefined)?.sessionId;
    const headers: Record<string, string> = { accept: 'text/event-stream', ...streamOptions.headers };
    // A turn carries an idempotency key, so sending it again after a break attaches to the same turn.
    // useChat's body has one already: its last message's id.
    if (STARTS_A_TURN.has(name) && !hasHeader(headers, 'idempotency-key') && !(typeof input === 'object' && input !== null && 'messages' in input)) {
      const given = (input as { clientMessageId?: unknown }).clientMessageId;
      headers['idempotency-key'] = typeof given === 'string' ? given : randomKey();
    }
    const controller = linkedController(streamOptions.signal);
    const first = await request(name, input, { signal: controller.signal, headers });
    if (first.status === 204) return null;
    if (!first.ok) throw await errorFromResponse(first);
    if (!(first.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      await first.body?.cancel().catch(() => undefined);
      throw new ByokClientError({ code: 'invalid_response', status: first.status, message: 'The server did not answer with an event stream' });
    }
    return uiMessageChunkStream({
      response: first,
      controller,
      reconnect: streamOptions.reconnect ?? options.reconnect,
      reopen: (lastEventId, signal) => {
        if (lastEventId !== undefined && typeof sessionId === 'string') {
          const { accept } = headers;
          return request('chat.stream.resume', { sessionId }, { signal, headers: { ...(accept ? { accept } : {}), 'last-event-id': lastEventId } });
        }
        // Nothing arrived yet: the same request again (a turn by its idempotency key).
        return request(name, input, { signal, headers });
      },
    });
  }

  const client = {
    call: (name: string, input?: unknown, callOptions?: CallOptions) => call(name, input, callOptions),
    stream: async (name: string, input?: unknown, streamOptions?: StreamOptions) => {
      const opened = await stream(name, input, streamOptions);
      if (opened === null) throw new ByokClientError({ code: 'not_found', status: 204, message: 'Nothing streams for this session' });
      return opened;
    },
    resume: (input: { sessionId: string }, streamOptions?: StreamOptions) => stream('chat.stream.resume', input, streamOptions),
    loginUrl: (issuer: string, login: { returnTo?: string; loginHint?: string } = {}) =>
      buildRequest({ baseUrl, route: BYOK_ROUTES['auth.login'], input: { issuer, ...login } }).url,
    refresh: () => refresher.refresh(refresher.generation),
    signOut: async (callOptions: CallOptions = {}) => {
      const current = tokens ? await tokens.get() : null;
      try {
        await call('auth.logout', current ? { refreshToken: current.refreshToken } : {}, callOptions);
      } catch (error) {
        // Signed out already is signed out.
        if (!isByokClientError(error) || error.status !== 401) throw error;
      } finally {
        if (tokens) await tokens.clear();
      }
    },
  };
  return client as unknown as ByokClient<M>;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

/** A fresh idempotency key (Web Crypto: browsers and Node alike). */
function randomKey(): string {
  return globalThis.crypto.randomUUID();
}

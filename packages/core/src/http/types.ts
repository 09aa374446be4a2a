/**
 * The framework-neutral request and response every adapter converts to and from.
 * Adapters (Express, Nest, tRPC's non-tRPC routes) do nothing else.
 */
export interface ByokRequest {
  method: string;
  /** Path and query as received, relative to where the host mounted byok (e.g. `/me?x=1`). */
  url: string;
  /** Header names lower-cased; repeated headers joined with `, ` (set-cookie never appears here). */
  headers: Record<string, string | undefined>;
  /** Parsed request cookies (adapters may pass them; otherwise parsed from the Cookie header). */
  cookies?: Record<string, string>;
  /** Parsed JSON body, `undefined` when none. A body that failed to parse is `{ [INVALID_JSON]: true }`. */
  body?: unknown;
  /** The TCP peer address; the client IP is derived from it and `trustProxy`. */
  remoteAddress: string | undefined;
  /** Aborted when the client goes away before the response has finished (never merely because the body was read). */
  signal?: AbortSignal;
}

export interface SetCookie {
  name: string;
  value: string;
  path?: string;
  domain?: string;
  maxAgeSeconds?: number;
  httpOnly?: boolean;
  secure?: boolean;
  sameSite?: 'Strict' | 'Lax' | 'None';
}

/** One Server-Sent Event. `data` is JSON-serialised by the writer. */
export interface SseEvent {
  event?: string;
  id?: string;
  data: unknown;
  /** Write `data` (a string) as it is instead of JSON — e.g. the UI message stream's `[DONE]`. */
  raw?: boolean;
}

export interface ByokResponse {
  status: number;
  headers: Record<string, string>;
  cookies: SetCookie[];
  /** JSON body; absent for 204 and redirects. */
  body?: unknown;
  /** A text body written as it is (e.g. Markdown), with the `content-type` of `headers` (default `text/plain; charset=utf-8`); instead of `body`. */
  text?: string;
  /** Location for a 302/303 redirect. */
  redirect?: string;
  /** An event stream: the adapter writes each event as SSE and stops on client close. */
  stream?: AsyncIterable<SseEvent>;
}

/** Who is calling, as established by `authenticate`. */
export interface AuthContext {
  userId: string;
  /** Session id (the access token's `sid`) when the caller used a byok session. */
  sessionId?: string;
  /** How the credential arrived; cookies are subject to CSRF checks. */
  via: 'cookie' | 'bearer' | 'host';
}

/** The facts about a request that services record in the audit trail. */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
}

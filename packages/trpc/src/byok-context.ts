import { parseCookieHeader, type ByokRequest } from '@byok/core/http';

/** A Node request as tRPC's Node adapters (standalone, Express, Fastify) hand it over. */
export interface NodeRequestLike {
  method?: string | undefined;
  url?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string | undefined } | undefined;
}

/** A web `Request` as tRPC's fetch adapter hands it over. */
export interface FetchRequestLike {
  method: string;
  url: string;
  headers: { forEach(callback: (value: string, name: string) => void): void };
}

/** What {@link createByokContext} takes: the options a tRPC adapter gives `createContext`. */
export interface CreateByokContextOptions {
  req: NodeRequestLike | FetchRequestLike;
  /**
   * The TCP peer's address for a web `Request` (it does not carry one), from which, with
   * `trustProxy`, the client IP for rate limits and the audit trail is derived. A Node
   * request's own socket address is used otherwise.
   */
  remoteAddress?: string | undefined;
}

/** The part of a tRPC context byok's procedures read. */
export interface ByokTrpcContext {
  /** The HTTP request the tRPC call came in, as core sees requests: its headers, cookies and peer. */
  byokRequest: ByokRequest;
}

/**
 * Builds the context byok's procedures need from the request a tRPC adapter received,
 * so core's `authenticate` (bearer token or session cookie), CSRF check and rate limits
 * apply to every call exactly as on byok's HTTP routes. Pass it as `createContext`, or
 * spread it into the host's own context.
 *
 * @example
 * import { initTRPC } from '@trpc/server';
 * import { createHTTPServer } from '@trpc/server/adapters/standalone';
 * import { createByokContext, createByokRouter, type ByokTrpcContext } from '@byok/trpc';
 * const db = { name: 'the host’s own' };
 * const t = initTRPC.context<ByokTrpcContext & { db: typeof db }>().create();
 * const appRouter = t.mergeRouters(createByokRouter(byok), t.router({ dbName: t.procedure.query(({ ctx }) => ctx.db.name) }));
 * createHTTPServer({ router: appRouter, createContext: (opts) => ({ ...createByokContext(opts), db }) });
 */
export function createByokContext(options: CreateByokContextOptions): ByokTrpcContext {
  const { req } = options;
  const headers: Record<string, string | undefined> = {};
  let url: string;
  let remoteAddress: string | undefined;
  if (isFetchRequest(req)) {
    req.headers.forEach((value, name) => {
      if (name !== 'set-cookie') headers[name] = value;
    });
    const parsed = new URL(req.url);
    url = `${parsed.pathname}${parsed.search}`;
    remoteAddress = options.remoteAddress;
  } else {
    for (const [name, value] of Object.entries(req.headers)) {
      if (name === 'set-cookie') continue;
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    url = req.url ?? '/';
    remoteAddress = options.remoteAddress ?? req.socket?.remoteAddress;
  }
  return {
    byokRequest: {
      method: (req.method ?? 'GET').toUpperCase(),
      url,
      headers,
      cookies: parseCookieHeader(headers.cookie),
      remoteAddress,
    },
  };
}

function isFetchRequest(req: NodeRequestLike | FetchRequestLike): req is FetchRequestLike {
  return typeof (req.headers as { forEach?: unknown }).forEach === 'function' && typeof (req.headers as { get?: unknown }).get === 'function';
}

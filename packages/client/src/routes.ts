import type { ByokOperations, HttpMethod } from '@byok/core/http';

/** Where the client sends one operation, and how it reads the answer. */
export interface Route {
  method: HttpMethod;
  path: string;
  /** What a raw operation answers with; absent for JSON and empty ones. */
  produces?: 'json' | 'markdown' | 'event-stream' | 'redirect';
}

/** A route table that says exactly what core's registry says, operation by operation. */
export type RoutesOf<M> = {
  [K in keyof M]: { method: M[K] extends { method: infer X } ? X : never; path: M[K] extends { path: infer P } ? P : never } & (M[K] extends {
    produces: infer P;
  }
    ? { produces: P }
    : { produces?: never });
};

/**
 * Every operation of byok's HTTP surface, by name. The bundle carries this table instead of
 * core; `satisfies` makes a path, method or operation that differs from core's registry a
 * compile error, and a test compares it with a running server's operations.
 */
export const BYOK_ROUTES = {
  // Sign-in and sessions.
  'auth.login': { method: 'GET', path: '/auth/login/:issuer', produces: 'redirect' },
  'auth.callback': { method: 'GET', path: '/auth/callback/:issuer', produces: 'redirect' },
  'auth.link': { method: 'POST', path: '/auth/link/:issuer' },
  'auth.refresh': { method: 'POST', path: '/auth/refresh' },
  'auth.logout': { method: 'POST', path: '/auth/logout' },
  'auth.logout_all': { method: 'POST', path: '/auth/logout-all' },
  'auth.sessions.list': { method: 'GET', path: '/auth/sessions' },
  'auth.sessions.revoke': { method: 'DELETE', path: '/auth/sessions/:id' },
  'auth.jwks': { method: 'GET', path: '/.well-known/jwks.json', produces: 'json' },
  // The user, their preferences and data.
  'me.get': { method: 'GET', path: '/me' },
  'me.update': { method: 'PATCH', path: '/me' },
  'me.delete': { method: 'DELETE', path: '/me' },
  'me.export': { method: 'GET', path: '/me/export' },
  'me.preferences.get': { method: 'GET', path: '/me/preferences' },
  'me.preferences.update': { method: 'PATCH', path: '/me/preferences' },
  'me.audit.list': { method: 'GET', path: '/me/audit' },
  // Providers and keys.
  'providers.list': { method: 'GET', path: '/providers' },
  'keys.list': { method: 'GET', path: '/keys' },
  'keys.get': { method: 'GET', path: '/keys/:provider' },
  'keys.set': { method: 'PUT', path: '/keys/:provider' },
  'keys.test': { method: 'POST', path: '/keys/:provider/test' },
  'keys.remove': { method: 'DELETE', path: '/keys/:provider' },
  // Chat.
  'chat.sessions.create': { method: 'POST', path: '/chat/sessions' },
  'chat.sessions.list': { method: 'GET', path: '/chat/sessions' },
  'chat.sessions.get': { method: 'GET', path: '/chat/sessions/:sessionId' },
  'chat.sessions.update': { method: 'PATCH', path: '/chat/sessions/:sessionId' },
  'chat.sessions.delete': { method: 'DELETE', path: '/chat/sessions/:sessionId' },
  'chat.sessions.usage': { method: 'GET', path: '/chat/sessions/:sessionId/usage' },
  'chat.sessions.exportMarkdown': { method: 'GET', path: '/chat/sessions/:sessionId/export.md', produces: 'markdown' },
  'chat.usage': { method: 'GET', path: '/chat/usage' },
  'chat.context.preview': { method: 'GET', path: '/chat/sessions/:sessionId/context' },
  'chat.messages.list': { method: 'GET', path: '/chat/sessions/:sessionId/messages' },
  'chat.messages.get': { method: 'GET', path: '/chat/sessions/:sessionId/messages/:messageId' },
  'chat.branch.switch': { method: 'POST', path: '/chat/sessions/:sessionId/branch' },
  'chat.messages.send': { method: 'POST', path: '/chat/sessions/:sessionId/messages', produces: 'event-stream' },
  'chat.messages.edit': { method: 'POST', path: '/chat/sessions/:sessionId/messages/:messageId/edit', produces: 'event-stream' },
  'chat.messages.regenerate': { method: 'POST', path: '/chat/sessions/:sessionId/messages/:messageId/regenerate', produces: 'event-stream' },
  'chat.stream.resume': { method: 'GET', path: '/chat/sessions/:sessionId/stream', produces: 'event-stream' },
  'chat.stop': { method: 'POST', path: '/chat/sessions/:sessionId/stop' },
  openapi: { method: 'GET', path: '/openapi.json', produces: 'json' },
} as const satisfies RoutesOf<ByokOperations>;

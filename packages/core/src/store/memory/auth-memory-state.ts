import type { AuthSessionRow, OAuthTokenRow, SigningKeyRow } from '../auth-repositories';
import type { MemoryStoreState } from './memory-state';

/** The auth tables of one in-memory store, kept beside its foundation tables. */
export interface AuthMemoryTables {
  authSessions: Map<string, AuthSessionRow>;
  signingKeys: Map<string, SigningKeyRow>;
  /** Keyed by `${userId}\n${issuer}` (one row per user and issuer). */
  oauthTokens: Map<string, OAuthTokenRow>;
}

const tables = new WeakMap<MemoryStoreState, AuthMemoryTables>();

/**
 * The auth tables attached to a memory store's state, created on first use together
 * with their ON DELETE CASCADE on users.
 */
export function authMemoryTables(state: MemoryStoreState): AuthMemoryTables {
  let found = tables.get(state);
  if (!found) {
    const created: AuthMemoryTables = { authSessions: new Map(), signingKeys: new Map(), oauthTokens: new Map() };
    state.userCascades.push((userId, w) => {
      for (const [id, row] of [...created.authSessions]) if (row.userId === userId) w.delete(created.authSessions, id);
      for (const [key, row] of [...created.oauthTokens]) if (row.userId === userId) w.delete(created.oauthTokens, key);
    });
    tables.set(state, created);
    found = created;
  }
  return found;
}

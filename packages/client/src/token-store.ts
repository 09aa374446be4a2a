/** The tokens of a byok session held by an API client (bearer mode). */
export interface SessionTokens {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms, as `POST /auth/refresh` answers. */
  accessTokenExpiresAt?: number;
  refreshTokenExpiresAt?: number;
}

/**
 * Where bearer mode keeps the session's tokens between calls. The client reads it before
 * each request and writes it after each refresh; a refresh that fails clears it. Keep it
 * somewhere only this app can read (memory by default).
 */
export interface TokenStore {
  get(): SessionTokens | null | Promise<SessionTokens | null>;
  set(tokens: SessionTokens): void | Promise<void>;
  clear(): void | Promise<void>;
}

/**
 * A token store in memory: the tokens live as long as the page or process.
 *
 * @example
 * import { createByokClient, memoryTokenStore } from '@byok/client';
 * // Empty until the app has a session: then tokens.set({ accessToken, refreshToken }).
 * const tokens = memoryTokenStore();
 * const client = createByokClient({ baseUrl: 'https://api.example.com', auth: { tokens } });
 * await client.call('me.get');
 */
export function memoryTokenStore(initial: SessionTokens | null = null): TokenStore {
  let current = initial;
  return {
    get: () => current,
    set: (tokens) => {
      current = tokens;
    },
    clear: () => {
      current = null;
    },
  };
}

import { ByokError, isLoopbackHost } from '@byok/core';

/** The environment variables that switch the example to Google sign-in and the real Gemini API. */
export const REAL_CONFIG_VARIABLES = ['GOOGLE_CLIENT_ID', 'GOOGLE_CLIENT_SECRET', 'BYOK_MASTER_KEYS', 'PUBLIC_URL'] as const;

/** How the example runs: against real Google services, or fully offline on loopback. */
export type ExampleMode =
  | {
      kind: 'google';
      clientId: string;
      clientSecret: string;
      /** The browser-facing origin, e.g. `https://byok.example` (byok lives under `/api`). */
      publicUrl: string;
      /** Optional: seals the login cookie so several instances can share logins. */
      cookieSecret: string | undefined;
    }
  | { kind: 'offline' };

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Picks the example's mode from its environment. With none of {@link REAL_CONFIG_VARIABLES}
 * set it is offline mode (development OpenID issuer, Gemini stand-in, generated key
 * file), which is refused unless the server listens on a loopback address and
 * `NODE_ENV` is not `production`. With any of them set, all are required
 * (`BYOK_MASTER_KEY_FILE` may stand in for `BYOK_MASTER_KEYS`).
 *
 * @throws ByokError `config_invalid` with a message naming what is missing or refused
 * @example
 * resolveExampleMode({}, '127.0.0.1'); // → { kind: 'offline' }
 * resolveExampleMode({ NODE_ENV: 'production' }, '127.0.0.1'); // throws: offline mode is refused in production
 */
export function resolveExampleMode(env: Env, host: string): ExampleMode {
  const present = (name: string): boolean => (env[name] ?? '').trim() !== '';
  const given = REAL_CONFIG_VARIABLES.filter(present);
  const masterKeysGiven = present('BYOK_MASTER_KEYS') || present('BYOK_MASTER_KEY_FILE');

  if (given.length === 0 && !present('BYOK_MASTER_KEY_FILE')) {
    if (env.NODE_ENV === 'production') {
      throw new ByokError(
        'config_invalid',
        `Offline mode (development issuer, Gemini stand-in, generated master key) is refused when NODE_ENV=production. Set ${REAL_CONFIG_VARIABLES.join(', ')} to run with Google sign-in and the real Gemini API.`,
      );
    }
    if (!isLoopbackHost(host)) {
      throw new ByokError(
        'config_invalid',
        `Offline mode runs only on a loopback address (127.0.0.1, ::1 or localhost), not on HOST=${host}. Set ${REAL_CONFIG_VARIABLES.join(', ')} to serve other hosts.`,
      );
    }
    return { kind: 'offline' };
  }

  const missing = REAL_CONFIG_VARIABLES.filter((name) => !present(name) && !(name === 'BYOK_MASTER_KEYS' && masterKeysGiven));
  if (missing.length > 0) {
    throw new ByokError(
      'config_invalid',
      `Incomplete configuration: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing. Set all of ${REAL_CONFIG_VARIABLES.join(', ')} for Google sign-in, or none of them for offline mode.`,
    );
  }
  let publicUrl: URL;
  try {
    publicUrl = new URL(env.PUBLIC_URL!.trim());
  } catch (cause) {
    throw new ByokError('config_invalid', 'PUBLIC_URL must be an absolute URL such as https://byok.example', { cause });
  }
  if (publicUrl.pathname !== '/' || publicUrl.search !== '' || publicUrl.hash !== '') {
    throw new ByokError('config_invalid', 'PUBLIC_URL must be a bare origin such as https://byok.example (no path)');
  }
  return {
    kind: 'google',
    clientId: env.GOOGLE_CLIENT_ID!.trim(),
    clientSecret: env.GOOGLE_CLIENT_SECRET!.trim(),
    publicUrl: publicUrl.origin,
    cookieSecret: present('BYOK_COOKIE_SECRET') ? env.BYOK_COOKIE_SECRET!.trim() : undefined,
  };
}

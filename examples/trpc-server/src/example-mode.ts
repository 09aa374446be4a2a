import { ByokError, isLoopbackHost } from '@byok/core';

/** The environment variables that switch the example to Google sign-in and the real Gemini API. */
export const REAL_CONFIG_VARIABLES = ['GOOGLE_CLIENT_ID', 'GOOGLE_CLIENT_SECRET', 'BYOK_MASTER_KEYS', 'PUBLIC_URL'] as const;

/** A variable naming a file that may stand in for one of {@link REAL_CONFIG_VARIABLES}. */
const FILE_ALTERNATIVES: Partial<Record<(typeof REAL_CONFIG_VARIABLES)[number], string>> = { BYOK_MASTER_KEYS: 'BYOK_MASTER_KEY_FILE' };

/** How the example runs: against Google and the real Gemini API, or fully offline on loopback. */
export type ExampleMode =
  | {
      kind: 'google';
      clientId: string;
      clientSecret: string;
      /** The browser-facing origin, e.g. `https://byok.example` (tRPC under `/trpc`, byok's HTTP routes under `/api`). */
      publicUrl: string;
    }
  | { kind: 'offline' };

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Picks the example's mode from its environment. With none of {@link REAL_CONFIG_VARIABLES}
 * set it is offline mode (development OpenID issuer, Gemini stand-in, generated master
 * key), which is refused unless the server listens on a loopback address and `NODE_ENV`
 * is not `production`. With any of them set, all are required (`BYOK_MASTER_KEY_FILE` may
 * stand in for `BYOK_MASTER_KEYS`).
 *
 * @throws ByokError `config_invalid` naming what is missing or refused
 * @example
 * resolveExampleMode({}, '127.0.0.1'); // → { kind: 'offline' }
 * resolveExampleMode({}, '0.0.0.0'); // throws: offline mode runs only on loopback
 */
export function resolveExampleMode(env: Env, host: string): ExampleMode {
  const present = (name: string): boolean => (env[name] ?? '').trim() !== '';
  const given = REAL_CONFIG_VARIABLES.filter((name) => present(name) || present(FILE_ALTERNATIVES[name] ?? ''));
  if (given.length === 0) {
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
  const missing = REAL_CONFIG_VARIABLES.filter((name) => !given.includes(name));
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
  return { kind: 'google', clientId: env.GOOGLE_CLIENT_ID!.trim(), clientSecret: env.GOOGLE_CLIENT_SECRET!.trim(), publicUrl: publicUrl.origin };
}

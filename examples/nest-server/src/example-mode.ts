import { ByokError, isLoopbackHost } from '@byok/core';

/** The environment variables that switch the example to Google sign-in and the real Gemini API. */
export const REAL_CONFIG_VARIABLES = ['GOOGLE_CLIENT_ID', 'GOOGLE_CLIENT_SECRET', 'BYOK_MASTER_KEYS', 'PUBLIC_URL'] as const;

/** How the example runs: against Google and Gemini, or fully offline on loopback. */
export type ExampleMode =
  | { kind: 'google'; clientId: string; clientSecret: string; publicUrl: string }
  | { kind: 'offline' };

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Picks the mode from the environment. With none of {@link REAL_CONFIG_VARIABLES} set it
 * is offline mode (development OpenID issuer, Gemini stand-in, generated master key),
 * refused unless the server listens on a loopback address and `NODE_ENV` is not
 * `production`. With any of them set, all are required (`BYOK_MASTER_KEY_FILE` may stand
 * in for `BYOK_MASTER_KEYS`).
 *
 * @throws ByokError `config_invalid` naming what is missing or refused
 */
export function resolveExampleMode(env: Env, host: string): ExampleMode {
  const present = (name: string): boolean => (env[name] ?? '').trim() !== '';
  const given = REAL_CONFIG_VARIABLES.filter((name) => present(name) || (name === 'BYOK_MASTER_KEYS' && present('BYOK_MASTER_KEY_FILE')));
  if (given.length === 0) {
    if (env.NODE_ENV === 'production') {
      throw new ByokError('config_invalid', `Offline mode is refused when NODE_ENV=production. Set ${REAL_CONFIG_VARIABLES.join(', ')}.`);
    }
    if (!isLoopbackHost(host)) {
      throw new ByokError('config_invalid', `Offline mode runs only on a loopback address, not on HOST=${host}. Set ${REAL_CONFIG_VARIABLES.join(', ')}.`);
    }
    return { kind: 'offline' };
  }
  const missing = REAL_CONFIG_VARIABLES.filter((name) => !given.includes(name));
  if (missing.length > 0) {
    throw new ByokError('config_invalid', `Incomplete configuration: ${missing.join(', ')} missing. Set all of ${REAL_CONFIG_VARIABLES.join(', ')}, or none for offline mode.`);
  }
  let publicUrl: URL;
  try {
    publicUrl = new URL(env.PUBLIC_URL!.trim());
  } catch (cause) {
    throw new ByokError('config_invalid', 'PUBLIC_URL must be an absolute URL such as https://byok.example', { cause });
  }
  return { kind: 'google', clientId: env.GOOGLE_CLIENT_ID!.trim(), clientSecret: env.GOOGLE_CLIENT_SECRET!.trim(), publicUrl: publicUrl.origin };
}

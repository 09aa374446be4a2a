import { ByokError, isLoopbackHost } from '@byok/core';

/** The environment variables that switch an example from offline mode to Google sign-in and the real provider APIs. */
export const REAL_CONFIG_VARIABLES = [
  'GOOGLE_CLIENT_ID',
  'GOOGLE_CLIENT_SECRET',
  'BYOK_MASTER_KEYS',
  'PUBLIC_URL',
  'BYOK_AUDIT_CHECKPOINT_KEY',
  'BYOK_AUDIT_CHECKPOINT_FILE',
] as const;

/** A variable naming a file that may stand in for one of {@link REAL_CONFIG_VARIABLES}. */
const FILE_ALTERNATIVES: Partial<Record<(typeof REAL_CONFIG_VARIABLES)[number], string>> = {
  BYOK_MASTER_KEYS: 'BYOK_MASTER_KEY_FILE',
  BYOK_AUDIT_CHECKPOINT_KEY: 'BYOK_AUDIT_CHECKPOINT_KEY_FILE',
};

/** How an example runs: against real Google sign-in and provider APIs, or fully offline on loopback. */
export type ExampleMode =
  | {
      kind: 'google';
      clientId: string;
      clientSecret: string;
      /** The browser-facing origin, e.g. `https://byok.example` (byok lives under `/api`). */
      publicUrl: string;
      /** Optional: seals the login cookie so several instances can share logins. */
      cookieSecret: string | undefined;
      /** The Ed25519 private key (PEM) that signs audit checkpoints, or the file that holds it. */
      checkpointKey: { pem: string } | { file: string };
      /** Where signed checkpoints are appended: storage the database's operators cannot rewrite. */
      checkpointFile: string;
    }
  | { kind: 'offline' };

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Picks the mode from the environment. With none of {@link REAL_CONFIG_VARIABLES} set it
 * is offline mode (development OpenID issuer, provider stand-ins, generated master key and
 * audit checkpoint key), which is refused unless the server listens on a loopback address
 * and `NODE_ENV` is not `production`. With any of them set, all are required
 * (`BYOK_MASTER_KEY_FILE` may stand in for `BYOK_MASTER_KEYS`, and
 * `BYOK_AUDIT_CHECKPOINT_KEY_FILE` for `BYOK_AUDIT_CHECKPOINT_KEY`; with `BYOK_KMS=aws` or
 * `gcp` no master keys are needed).
 *
 * @throws ByokError `config_invalid` with a message naming what is missing or refused
 * @example
 * resolveExampleMode({}, '127.0.0.1'); // → { kind: 'offline' }
 * resolveExampleMode({ NODE_ENV: 'production' }, '127.0.0.1'); // throws: offline mode is refused in production
 */
export function resolveExampleMode(env: Env, host: string): ExampleMode {
  const present = (name: string): boolean => (env[name] ?? '').trim() !== '';
  const given = REAL_CONFIG_VARIABLES.filter((name) => present(name) || present(FILE_ALTERNATIVES[name] ?? ''));

  if (given.length === 0) {
    if (env.NODE_ENV === 'production') {
      throw new ByokError(
        'config_invalid',
        `Offline mode (development issuer, provider stand-ins, generated master key) is refused when NODE_ENV=production. Set ${REAL_CONFIG_VARIABLES.join(', ')} to run with Google sign-in and the real provider APIs.`,
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

  // Sealing with AWS KMS or Cloud KMS needs no local master keys.
  const kmsInCloud = ['aws', 'gcp'].includes((env.BYOK_KMS ?? '').trim());
  const missing = REAL_CONFIG_VARIABLES.filter((name) => !given.includes(name) && !(kmsInCloud && name === 'BYOK_MASTER_KEYS'));
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
    checkpointKey: present('BYOK_AUDIT_CHECKPOINT_KEY') ? { pem: env.BYOK_AUDIT_CHECKPOINT_KEY! } : { file: env.BYOK_AUDIT_CHECKPOINT_KEY_FILE!.trim() },
    checkpointFile: env.BYOK_AUDIT_CHECKPOINT_FILE!.trim(),
  };
}

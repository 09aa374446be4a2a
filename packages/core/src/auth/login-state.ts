import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, type KeyObject, createSecretKey } from 'node:crypto';
import { ByokError } from '../errors';

/** What a login in progress is bound to; sealed into an HttpOnly cookie by {@link LoginStateSealer}. */
export interface LoginState {
  /** The issuer id (`google`, `dev`, …) the login was started for. */
  issuerId: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  /** The checked, absolute return address. */
  returnTo: string;
  /** Set when a signed-in user asked to link this issuer to their account. */
  linkUserId: string | null;
  /** Epoch ms after which the cookie is refused. */
  expiresAt: number;
}

const VERSION = 1;
const AAD_PREFIX = 'byok-login-state-v1\n';

/**
 * Seals login state with AES-256-GCM under a key derived (HKDF-SHA-256) from a secret,
 * so the browser carries it without being able to read or change it. The issuer id is
 * bound into the AAD: a cookie started for one issuer does not open for another.
 *
 * @example
 * const sealer = new LoginStateSealer(process.env.BYOK_COOKIE_SECRET!);
 * const value = sealer.seal(state);
 * const again = sealer.open(value, 'google', Date.now());
 */
export class LoginStateSealer {
  readonly #key: KeyObject;

  constructor(secret: string | Uint8Array) {
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
    if (bytes.length < 32) throw new ByokError('config_invalid', 'auth.cookieSecret must be at least 32 bytes');
    const derived = Buffer.from(hkdfSync('sha256', bytes, Buffer.alloc(0), 'byok login state cookie', 32));
    this.#key = createSecretKey(derived);
  }

  /** A sealer with a random key: logins must finish on the instance that started them. */
  static ephemeral(): LoginStateSealer {
    return new LoginStateSealer(randomBytes(32));
  }

  seal(state: LoginState): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(AAD_PREFIX + state.issuerId, 'utf8'));
    const body = Buffer.from(
      JSON.stringify([VERSION, state.state, state.nonce, state.codeVerifier, state.returnTo, state.linkUserId, state.expiresAt]),
      'utf8',
    );
    const out = Buffer.concat([iv, cipher.update(body), cipher.final(), cipher.getAuthTag()]);
    return out.toString('base64url');
  }

  /**
   * Opens a login cookie for `issuerId`. A cookie that is missing, tampered with, made for
   * another issuer or expired is a `login_failed` error with `details.reason`.
   */
  open(value: string | undefined, issuerId: string, now: number): LoginState {
    if (!value) throw loginError('state_missing', 'no login in progress in this browser');
    const raw = Buffer.from(value, 'base64url');
    if (raw.length < 12 + 16 + 2) throw loginError('state_invalid', 'the login cookie is not valid');
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(AAD_PREFIX + issuerId, 'utf8'));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      plain = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
    } catch {
      throw loginError('state_invalid', 'the login cookie is not valid for this issuer');
    }
    const parsed = JSON.parse(plain.toString('utf8')) as unknown[];
    const [version, state, nonce, codeVerifier, returnTo, linkUserId, expiresAt] = parsed;
    if (
      version !== VERSION ||
      typeof state !== 'string' ||
      typeof nonce !== 'string' ||
      typeof codeVerifier !== 'string' ||
      typeof returnTo !== 'string' ||
      (linkUserId !== null && typeof linkUserId !== 'string') ||
      typeof expiresAt !== 'number'
    ) {
      throw loginError('state_invalid', 'the login cookie is not valid');
    }
    if (expiresAt <= now) throw loginError('state_expired', 'the login took too long; start again');
    return { issuerId, state, nonce, codeVerifier, returnTo, linkUserId, expiresAt };
  }
}

/**
 * A short, non-reversible handle of a login's `state`, for the single-use marker.
 *
 * @example
 * await usedOnce.hit(`login_state:${stateHandle(state)}`, ttlMs, 1);
 */
export function stateHandle(state: string): string {
  return createHash('sha256').update(state, 'utf8').digest('base64url').slice(0, 32);
}

function loginError(reason: string, detail: string): ByokError {
  return new ByokError('login_failed', `Sign-in failed: ${detail}`, { details: { reason } });
}

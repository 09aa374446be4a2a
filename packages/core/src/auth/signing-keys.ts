import { exportJWK, generateKeyPair, generateSecret, importJWK } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { ByokError } from '../errors';
import { systemClock } from '../util/clock';
import type { Clock } from '../util/clock';
import { uuidv7 } from '../util/ids';

/** Algorithms byok signs access tokens with. EdDSA (Ed25519) is the default. */
export type SigningAlg = 'EdDSA' | 'ES256' | 'HS256';

export const SIGNING_ALGS: readonly SigningAlg[] = ['EdDSA', 'ES256', 'HS256'];

/** A public JWK as published at the JWKS endpoint. */
export type PublicJwk = JWK & { kid: string; alg: SigningAlg; use: 'sig' };

/** A JWKS document. */
export interface Jwks {
  keys: PublicJwk[];
}

/** One signing key, in memory. The private part only ever leaves via {@link exportPrivate}. */
export interface SigningKey {
  /** The JWT `kid`; also the `signing_keys.id` row id. */
  readonly kid: string;
  readonly alg: SigningAlg;
  /** Signs tokens (the shared secret under HS256). */
  readonly signKey: CryptoKey;
  /** Verifies tokens (the same shared secret under HS256). */
  readonly verifyKey: CryptoKey;
  /** Public members only; null under HS256, which has nothing public. */
  readonly publicJwk: PublicJwk | null;
  readonly createdAt: number;
  /** Not used to sign before this time (keys are published before they are used). */
  readonly notBefore: number;
  /** No longer used to sign from this time on; still verifies while it is in the ring. */
  readonly retiredAt: number | null;
}

/** Timestamps to attach to a key created or imported. */
export interface SigningKeyMeta {
  kid?: string;
  createdAt?: number;
  notBefore?: number;
  retiredAt?: number | null;
  clock?: Clock;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'] as const;

/**
 * Creates a fresh signing key: Ed25519 for `EdDSA`, P-256 for `ES256`, a 256-bit secret
 * for `HS256`. The `kid` defaults to a new UUIDv7.
 *
 * @example
 * const key = await generateSigningKey('EdDSA');
 * const ring = new KeyRing({ alg: 'EdDSA', keys: [key] });
 */
export async function generateSigningKey(alg: SigningAlg = 'EdDSA', meta: SigningKeyMeta = {}): Promise<SigningKey> {
  assertAlg(alg);
  const now = (meta.clock ?? systemClock).now();
  const kid = meta.kid ?? uuidv7(now);
  if (alg === 'HS256') {
    const secret = (await generateSecret('HS256', { extractable: true })) as CryptoKey;
    return build(kid, alg, secret, secret, null, meta, now);
  }
  const pair =
    alg === 'EdDSA'
      ? await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
      : await generateKeyPair('ES256', { extractable: true });
  const publicJwk = toPublicJwk(await exportJWK(pair.publicKey), kid, alg);
  return build(kid, alg, pair.privateKey, pair.publicKey, publicJwk, meta, now);
}

/**
 * Serialises a key's private part as a JWK JSON string, for the vault to seal into
 * `signing_keys.private_sealed`. Treat the result as a secret.
 *
 * @example
 * const sealedInput = await exportPrivate(key); // '{"kty":"OKP","crv":"Ed25519","d":"…",…}'
 */
export async function exportPrivate(key: SigningKey): Promise<string> {
  const jwk = await exportJWK(key.signKey);
  return JSON.stringify({ ...jwk, kid: key.kid, alg: key.alg, use: 'sig' });
}

/**
 * Rebuilds a key from {@link exportPrivate}'s output. Checks that the JWK's type,
 * curve and `alg` agree, so a stored ES256 key cannot come back as HS256.
 *
 * @example
 * const again = await importPrivate(json, { createdAt: row.created_at, notBefore: row.not_before });
 */
export async function importPrivate(json: string, meta: SigningKeyMeta = {}): Promise<SigningKey> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(json) as JWK;
  } catch {
    throw new ByokError('config_invalid', 'Stored signing key is not JSON');
  }
  const alg = jwk.alg as SigningAlg;
  const kid = meta.kid ?? jwk.kid;
  if (typeof kid !== 'string' || kid === '') throw new ByokError('config_invalid', 'Stored signing key has no kid');
  const shapeOk =
    (alg === 'EdDSA' && jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && typeof jwk.d === 'string') ||
    (alg === 'ES256' && jwk.kty === 'EC' && jwk.crv === 'P-256' && typeof jwk.d === 'string') ||
    (alg === 'HS256' && jwk.kty === 'oct' && typeof jwk.k === 'string' && Buffer.from(jwk.k, 'base64url').length >= 32);
  if (!shapeOk) throw new ByokError('config_invalid', 'Stored signing key does not match its algorithm');
  const now = (meta.clock ?? systemClock).now();
  try {
    const signKey = (await importJWK(jwk, alg, { extractable: true })) as CryptoKey;
    if (alg === 'HS256') return build(kid, alg, signKey, signKey, null, meta, now);
    const publicJwk = toPublicJwk(jwk, kid, alg);
    const verifyKey = (await importJWK(publicJwk, alg)) as CryptoKey;
    return build(kid, alg, signKey, verifyKey, publicJwk, meta, now);
  } catch (cause) {
    throw new ByokError('config_invalid', 'Stored signing key could not be imported', { cause });
  }
}

/** Options for a {@link KeyRing}. */
export interface KeyRingOptions {
  /** The one algorithm this ring signs and verifies with (verification is pinned to it). */
  alg: SigningAlg;
  keys?: readonly SigningKey[];
  /** Fetches the current set of keys again (e.g. from the store); used by {@link KeyRing.reload}. */
  load?: () => Promise<readonly SigningKey[]>;
  /** Minimum time between two loads (default 30 s): an unknown `kid` cannot make us hammer the store. */
  reloadIntervalMs?: number;
  clock?: Clock;
}

/**
 * The signing keys an instance knows: the current one signs, all of them verify and
 * (under EdDSA/ES256) are published at the JWKS endpoint. An unknown `kid` on an
 * incoming token means another instance rotated: call {@link KeyRing.reload}, which is
 * rate-limited and shares one in-flight load between callers.
 *
 * @example
 * const ring = new KeyRing({ alg: 'EdDSA', keys: [await generateSigningKey('EdDSA')] });
 * ring.current().kid;
 * ring.publicJwks(); // { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '…', kid, alg: 'EdDSA', use: 'sig' }] }
 */
export class KeyRing {
  readonly alg: SigningAlg;
  #keys = new Map<string, SigningKey>();
  readonly #load: (() => Promise<readonly SigningKey[]>) | undefined;
  readonly #interval: number;
  readonly #clock: Clock;
  #lastLoad = Number.NEGATIVE_INFINITY;
  #inFlight: Promise<boolean> | null = null;

  constructor(options: KeyRingOptions) {
    assertAlg(options.alg);
    this.alg = options.alg;
    this.#load = options.load;
    this.#interval = options.reloadIntervalMs ?? 30_000;
    this.#clock = options.clock ?? systemClock;
    this.replace(options.keys ?? []);
  }

  /** The key to sign with now: the newest whose `notBefore` has passed and that is not retired. */
  current(): SigningKey {
    const now = this.#clock.now();
    let best: SigningKey | undefined;
    for (const key of this.#keys.values()) {
      if (key.notBefore > now || (key.retiredAt !== null && key.retiredAt <= now)) continue;
      if (!best || key.notBefore > best.notBefore || (key.notBefore === best.notBefore && key.createdAt > best.createdAt)) {
        best = key;
      }
    }
    if (!best) throw new ByokError('config_invalid', 'No active signing key');
    return best;
  }

  /** The key with this `kid`, if the ring holds it. */
  get(kid: string): SigningKey | undefined {
    return this.#keys.get(kid);
  }

  /** Every key in the ring (signing and verify-only). */
  list(): SigningKey[] {
    return [...this.#keys.values()];
  }

  /** Adds or replaces one key. Its algorithm must be the ring's. */
  add(key: SigningKey): void {
    if (key.alg !== this.alg) {
      throw new ByokError('config_invalid', `Signing key ${key.kid} is ${key.alg}, the ring is ${this.alg}`);
    }
    this.#keys.set(key.kid, key);
  }

  /** Drops a key: tokens signed with it stop verifying (key revocation). */
  remove(kid: string): boolean {
    return this.#keys.delete(kid);
  }

  /** Replaces the whole set. */
  replace(keys: readonly SigningKey[]): void {
    const next = new Map<string, SigningKey>();
    for (const key of keys) {
      if (key.alg !== this.alg) {
        throw new ByokError('config_invalid', `Signing key ${key.kid} is ${key.alg}, the ring is ${this.alg}`);
      }
      next.set(key.kid, key);
    }
    this.#keys = next;
  }

  /**
   * The JWKS document: public members only (asserted: no `d`, no `k`), or null under
   * HS256, where nothing may be published.
   */
  publicJwks(): Jwks | null {
    if (this.alg === 'HS256') return null;
    const keys: PublicJwk[] = [];
    for (const key of this.#keys.values()) {
      if (key.publicJwk === null) continue;
      for (const member of PRIVATE_MEMBERS) {
        if (member in key.publicJwk) throw new ByokError('internal', 'Refusing to publish a private key member');
      }
      keys.push({ ...key.publicJwk });
    }
    return { keys };
  }

  /**
   * Loads the keys again through `load`, at most once per `reloadIntervalMs`;
   * concurrent callers share one load. Resolves true when a load ran.
   */
  async reload(): Promise<boolean> {
    if (!this.#load) return false;
    if (this.#inFlight) return this.#inFlight;
    const now = this.#clock.now();
    if (now - this.#lastLoad < this.#interval) return false;
    this.#lastLoad = now;
    const load = this.#load;
    this.#inFlight = (async () => {
      try {
        this.replace(await load());
        return true;
      } finally {
        this.#inFlight = null;
      }
    })();
    return this.#inFlight;
  }
}

function build(
  kid: string,
  alg: SigningAlg,
  signKey: CryptoKey,
  verifyKey: CryptoKey,
  publicJwk: PublicJwk | null,
  meta: SigningKeyMeta,
  now: number,
): SigningKey {
  const createdAt = meta.createdAt ?? now;
  return Object.freeze({
    kid,
    alg,
    signKey,
    verifyKey,
    publicJwk,
    createdAt,
    notBefore: meta.notBefore ?? createdAt,
    retiredAt: meta.retiredAt ?? null,
  });
}

function toPublicJwk(jwk: JWK, kid: string, alg: SigningAlg): PublicJwk {
  const out: JWK =
    jwk.kty === 'OKP' ? { kty: 'OKP', crv: jwk.crv, x: jwk.x } : { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
  return { ...out, kid, alg, use: 'sig' } as PublicJwk;
}

function assertAlg(alg: string): asserts alg is SigningAlg {
  if (!SIGNING_ALGS.includes(alg as SigningAlg)) {
    throw new ByokError('config_invalid', `Unsupported signing algorithm: ${alg}`);
  }
}

import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';

/** Algorithms {@link signTestJwt} can produce, including the insecure `none`. */
export type TestJwsAlg = 'RS256' | 'ES256' | 'EdDSA' | 'HS256' | 'none';

/** A key for {@link signTestJwt}: an asymmetric private key, or an HMAC secret for HS256. */
export type TestJwsKey = KeyObject | string | Uint8Array;

/**
 * Signs a compact JWS with Node's crypto only, so negative tests can build exactly the
 * token they need: another key, another audience, an expired `exp`, `alg: none`, an
 * HS256 token keyed with a public key (algorithm confusion).
 *
 * @example
 * const { privateKey } = testSigningKeyPair('RS256');
 * const token = signTestJwt({ alg: 'RS256', kid: 'k1' }, { sub: 'alice', aud: 'other' }, privateKey);
 */
export function signTestJwt(
  header: { alg: TestJwsAlg; [name: string]: unknown },
  payload: Record<string, unknown>,
  key?: TestJwsKey,
): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode(header)}.${encode(payload)}`;
  const data = Buffer.from(input);
  let signature: Buffer;
  switch (header.alg) {
    case 'none':
      signature = Buffer.alloc(0);
      break;
    case 'HS256':
      if (key === undefined || (typeof key === 'object' && !(key instanceof Uint8Array))) {
        throw new TypeError('HS256 needs a secret string or bytes');
      }
      signature = createHmac('sha256', key).update(data).digest();
      break;
    case 'RS256':
      signature = sign('sha256', data, asymmetric(key));
      break;
    case 'ES256':
      signature = sign('sha256', data, { key: asymmetric(key), dsaEncoding: 'ieee-p1363' });
      break;
    case 'EdDSA':
      signature = sign(null, data, asymmetric(key));
      break;
    default:
      throw new TypeError(`Unsupported alg ${String(header.alg)}`);
  }
  return `${input}.${signature.toString('base64url')}`;
}

/** A fresh key pair for {@link signTestJwt}, with the public half as a JWK. */
export interface TestKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Public JWK with `kid`, `alg`, `use: 'sig'`. */
  publicJwk: JsonWebKey & { kid: string; alg: string; use: 'sig' };
  /** Private JWK with `kid`, `alg`, `use: 'sig'` (for an OpenID provider's `jwks`). */
  privateJwk: JsonWebKey & { kid: string; alg: string; use: 'sig' };
}

/**
 * Generates a key pair for tests (RSA 2048 for RS256, P-256 for ES256, Ed25519 for EdDSA).
 *
 * @example
 * const foreign = testSigningKeyPair('RS256', 'foreign-key');
 */
export function testSigningKeyPair(alg: 'RS256' | 'ES256' | 'EdDSA', kid = `${alg.toLowerCase()}-${Date.now()}`): TestKeyPair {
  const pair =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  const meta = { kid, alg, use: 'sig' as const };
  return {
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    publicJwk: { ...pair.publicKey.export({ format: 'jwk' }), ...meta },
    privateJwk: { ...pair.privateKey.export({ format: 'jwk' }), ...meta },
  };
}

/** Splits a compact JWS into its decoded header and payload (no verification). */
export function decodeTestJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header, payload] = token.split('.');
  if (header === undefined || payload === undefined) throw new TypeError('Not a compact JWS');
  const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: decode(header), payload: decode(payload) };
}

function asymmetric(key: TestJwsKey | undefined): KeyObject {
  if (key === undefined || typeof key === 'string' || key instanceof Uint8Array) {
    throw new TypeError('This algorithm needs a private KeyObject');
  }
  return key;
}

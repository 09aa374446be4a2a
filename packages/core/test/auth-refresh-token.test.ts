import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { uuidv7 } from '@byok/core/store';
import { hashRefreshSecret, newRefreshToken, parseRefreshToken, refreshSecretMatches } from '../src/auth/refresh-token';
import { sanitize } from '../src/util/sanitize';

describe('refresh tokens', () => {
  it('look like byok_rt_<uuid>.<43 base64url chars> and carry 256 random bits', () => {
    const id = uuidv7();
    const { token, secret } = newRefreshToken(id);
    expect(token).toMatch(/^byok_rt_[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
    expect(token).toBe(`byok_rt_${id}.${secret}`);
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    const secrets = new Set(Array.from({ length: 200 }, () => newRefreshToken(id).secret));
    expect(secrets.size).toBe(200);
  });

  it('parse back into id and secret', () => {
    const id = uuidv7();
    const { token, secret } = newRefreshToken(id);
    expect(parseRefreshToken(token)).toEqual({ id, secret });
  });

  it('refuse ids that are not UUIDs when created', () => {
    expect(() => newRefreshToken('1')).toThrow(expect.objectContaining({ code: 'internal' }));
  });

  it('parse strictly', () => {
    const id = uuidv7();
    const { token, secret } = newRefreshToken(id);
    // a non-canonical last character that decodes to the same 32 bytes
    const last = secret.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = alphabet[(alphabet.indexOf(last) & ~3) + ((alphabet.indexOf(last) & 3) === 0 ? 1 : 0)]!;
    expect(Buffer.from(secret.slice(0, -1) + twin, 'base64url').equals(Buffer.from(secret, 'base64url'))).toBe(true);
    const bad: unknown[] = [
      undefined,
      null,
      42,
      '',
      token.slice(1),
      `${token}=`,
      `${token}A`,
      token.slice(0, -1),
      token.replace('byok_rt_', 'byok_xx_'),
      token.replace('byok_rt_', 'BYOK_RT_'),
      token.toUpperCase(),
      token.replace('.', ':'),
      `byok_rt_${id.replace(/-/g, '')}xxxx.${secret}`,
      `byok_rt_${id}.${secret.slice(0, -1)}+`,
      `byok_rt_${id}.${secret.slice(0, -1)}${twin}`,
      ` ${token}`,
      `${token}\n`,
      `byok_rt_${id}.${secret}.${secret}`,
    ];
    for (const value of bad) {
      expect(() => parseRefreshToken(value), String(value)).toThrow(expect.objectContaining({ code: 'unauthenticated' }));
    }
  });

  it('never echo the token in the parse error', () => {
    const { token } = newRefreshToken(uuidv7());
    try {
      parseRefreshToken(`${token}x`);
    } catch (error) {
      expect(JSON.stringify((error as { toJSON(): unknown }).toJSON())).not.toContain(token);
      expect((error as Error).message).not.toContain(token.slice(8, 30));
    }
  });

  it('hash with SHA-256 and compare in constant time', () => {
    const { secret } = newRefreshToken(uuidv7());
    const hash = hashRefreshSecret(secret);
    expect(hash).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(refreshSecretMatches(secret, hash)).toBe(true);
    expect(refreshSecretMatches(newRefreshToken(uuidv7()).secret, hash)).toBe(false);
    expect(refreshSecretMatches(secret, hash.toUpperCase())).toBe(false);
    expect(refreshSecretMatches(secret, hash.slice(0, 63))).toBe(false);
    expect(refreshSecretMatches(secret, '')).toBe(false);
  });

  it('are masked by the sanitiser', () => {
    const { token } = newRefreshToken(uuidv7());
    expect(JSON.stringify(sanitize({ note: `got ${token}` }))).not.toContain(token);
  });
});

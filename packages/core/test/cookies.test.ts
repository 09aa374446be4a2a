import { describe, expect, it } from 'vitest';
import { parseCookieHeader, serializeCookie } from '../src/http/cookies';

describe('parseCookieHeader', () => {
  it('never returns inherited properties for names like constructor', () => {
    for (const header of [undefined, '', 'a=1', 'theme=dark; lang=en']) {
      const cookies = parseCookieHeader(header);
      for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']) {
        expect(cookies[name], `${name} in ${JSON.stringify(header)}`).toBeUndefined();
      }
    }
  });

  it('returns cookies named after Object.prototype members as the values sent', () => {
    const cookies = parseCookieHeader('constructor=c; toString=t; hasOwnProperty=h; __proto__=p');
    expect(cookies.constructor).toBe('c');
    expect(cookies.toString).toBe('t');
    expect(cookies.hasOwnProperty).toBe('h');
    expect(Object.getOwnPropertyDescriptor(cookies, '__proto__')?.value).toBe('p');
    expect(Object.keys(cookies).sort()).toEqual(['__proto__', 'constructor', 'hasOwnProperty', 'toString']);
  });

  it('keeps the first occurrence, trims, unquotes and percent-decodes', () => {
    expect({ ...parseCookieHeader('sid=first; sid=second') }).toEqual({ sid: 'first' });
    expect({ ...parseCookieHeader(' a = 1 ;b="quoted";c=%E2%9C%93; d=%zz') }).toEqual({ a: '1', b: 'quoted', c: '✓', d: '%zz' });
  });

  it('ignores nameless and malformed pairs', () => {
    expect({ ...parseCookieHeader('=orphan; novalue; x=1') }).toEqual({ x: '1' });
    expect({ ...parseCookieHeader(';;;') }).toEqual({});
  });
});

describe('serializeCookie', () => {
  it('writes the attributes, and refuses a name, path or domain that would inject into the header', () => {
    expect(serializeCookie({ name: 'byok_rt', value: 'a b', path: '/api/auth', domain: '.example.com', maxAgeSeconds: 60, secure: true, sameSite: 'Strict' })).toBe(
      'byok_rt=a%20b; Path=/api/auth; Domain=.example.com; Max-Age=60; HttpOnly; Secure; SameSite=Strict',
    );
    for (const bad of [{ name: 'a;b' }, { path: '/x; Domain=evil.test' }, { path: '/x\r\nSet-Cookie: y=1' }, { path: 'relative' }, { domain: 'evil.test; Secure' }, { domain: 'a b.test' }]) {
      expect(() => serializeCookie({ name: 'n', value: 'v', ...bad }), JSON.stringify(bad)).toThrow(TypeError);
    }
  });
});

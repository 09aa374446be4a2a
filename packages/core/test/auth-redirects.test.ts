import { describe, expect, it } from 'vitest';
import { isByokError } from '@byok/core';
import { normalizeOrigin, safeReturnTo } from '../src/auth/redirects';

const ALLOWED = ['https://app.example', 'http://localhost:5173'];
const FALLBACK = 'https://app.example/';

function accepted(value: string): string {
  return safeReturnTo(value, ALLOWED, FALLBACK, { onReject: 'throw' });
}

function expectRefused(value: unknown): void {
  let thrown: unknown;
  try {
    safeReturnTo(value, ALLOWED, FALLBACK, { onReject: 'throw' });
  } catch (error) {
    thrown = error;
  }
  expect(isByokError(thrown), `expected ${JSON.stringify(value)} to be refused`).toBe(true);
  expect((thrown as { code: string }).code).toBe('redirect_not_allowed');
  // and the default mode quietly falls back
  expect(safeReturnTo(value, ALLOWED, FALLBACK)).toBe(FALLBACK);
}

describe('safeReturnTo: accepted', () => {
  it.each([
    ['/', 'https://app.example/'],
    ['/chat', 'https://app.example/chat'],
    ['/chat/42?tab=keys#top', 'https://app.example/chat/42?tab=keys#top'],
    ['/search?q=a%20b&next=%2Fsettings', 'https://app.example/search?q=a%20b&next=%2Fsettings'],
    ['/a/../b', 'https://app.example/b'],
    ['https://app.example', 'https://app.example/'],
    ['https://app.example/settings', 'https://app.example/settings'],
    ['HTTPS://APP.EXAMPLE/x', 'https://app.example/x'],
    ['https://app.example:443/x', 'https://app.example/x'],
    ['http://localhost:5173/dev', 'http://localhost:5173/dev'],
    ['/redirect?to=https://evil.example', 'https://app.example/redirect?to=https://evil.example'],
  ])('%s → %s', (value, expected) => {
    expect(accepted(value)).toBe(expected);
  });

  it('returns the fallback for an absent value without throwing', () => {
    for (const value of [undefined, null, '']) {
      expect(safeReturnTo(value, ALLOWED, FALLBACK, { onReject: 'throw' })).toBe(FALLBACK);
    }
  });
});

describe('safeReturnTo: refused', () => {
  it.each([
    // other origins, protocol-relative and scheme tricks
    'https://evil.example',
    'https://evil.example/path',
    'http://app.example/x',
    'https://app.example:8443/x',
    'https://sub.app.example/',
    'https://app.example.evil.example/',
    '//evil.example',
    '//evil.example/path',
    '///evil.example',
    '////evil.example',
    'https:evil.example',
    'https:/evil.example',
    'https:app.example',
    'javascript:alert(1)',
    'JavaScript:alert(1)',
    'java\tscript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'vbscript:msgbox(1)',
    'file:///etc/passwd',
    'ftp://app.example/',
    'evil.example',
    'app.example/path',
    './chat',
    '../chat',
    '?next=/',
    '#frag',
    // backslashes
    '/\\evil.example',
    '\\\\evil.example',
    '\\/evil.example',
    '/\\/evil.example',
    'https://app.example\\@evil.example',
    'https:\\\\evil.example',
    // percent-encoded variants
    '/%2F%2Fevil.example',
    '/%2f%2fevil.example',
    '/%2Fevil.example',
    '%2F%2Fevil.example',
    '/%5Cevil.example',
    '/%5cevil.example',
    '%5C%5Cevil.example',
    '/%252F%252Fevil.example',
    '/%25252F%25252Fevil.example',
    '/%2525252525252F',
    '/%E0%A4%A',
    '/100%',
    '/%09/evil.example',
    '/%0D%0ALocation:%20https://evil.example',
    // control characters and whitespace tricks
    '/\t/evil.example',
    '/\n/evil.example',
    '/\r/evil.example',
    ' /chat',
    '/chat ',
    '\u0000/chat',
    '/chat\u0000',
    '\u001f//evil.example',
    '/\u00a0/evil.example',
    '/\u2028/evil.example',
    '/\u200b/evil.example',
    '/\ufeff/evil.example',
    '\u3000//evil.example',
    'https://app.example/\x7f',
    // userinfo tricks
    'https://app.example@evil.example',
    'https://app.example:443@evil.example/',
    'https://user:pass@app.example/',
    'https://user@app.example/',
    'https://@app.example/',
    'https://evil.example#@app.example',
    'https://evil.example?@app.example',
    'https://app.example%2F@evil.example',
    'https://app.example%40evil.example',
    // overlong
    `/${'a'.repeat(3000)}`,
  ])('%j', (value) => {
    expectRefused(value);
  });

  it('refuses values that are not strings', () => {
    expectRefused(42);
    expectRefused({ toString: () => '/chat' });
    expectRefused(['/chat']);
  });

  it('refuses relative paths when no origin is allowed', () => {
    expect(() => safeReturnTo('/chat', [], FALLBACK, { onReject: 'throw' })).toThrow(
      expect.objectContaining({ code: 'redirect_not_allowed' }),
    );
  });

  it('honours maxLength', () => {
    expect(safeReturnTo('/abcdef', ALLOWED, FALLBACK, { maxLength: 4 })).toBe(FALLBACK);
  });
});

describe('normalizeOrigin', () => {
  it('normalises bare origins', () => {
    expect(normalizeOrigin('https://App.Example:443/')).toBe('https://app.example');
    expect(normalizeOrigin('http://localhost:5173')).toBe('http://localhost:5173');
  });

  it.each(['app.example', 'https://app.example/path', 'https://u@app.example', 'javascript:x', 'https://app.example/?q', 'ftp://x.example'])(
    'rejects %s as configuration',
    (origin) => {
      expect(() => normalizeOrigin(origin)).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    },
  );
});

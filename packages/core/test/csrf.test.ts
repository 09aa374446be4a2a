import { describe, expect, it } from 'vitest';
import { checkCsrf } from '../src/http/csrf';
import type { CsrfInput } from '../src/http/csrf';

const ALLOWED = ['https://app.example', 'http://localhost:5173/'];

function refused(input: CsrfInput): void {
  expect(() => checkCsrf(input, ALLOWED)).toThrow(expect.objectContaining({ code: 'csrf_rejected', status: 403 }));
}

function passes(input: CsrfInput): void {
  expect(() => checkCsrf(input, ALLOWED)).not.toThrow();
}

const cookiePost = (headers: CsrfInput['headers']): CsrfInput => ({ method: 'POST', headers, authenticatedBy: 'cookie' });

describe('checkCsrf', () => {
  it('lets a cookie-authenticated unsafe request from an allowed origin through', () => {
    passes(cookiePost({ origin: 'https://app.example' }));
    passes(cookiePost({ origin: 'http://localhost:5173' }));
    passes({ method: 'DELETE', headers: { Origin: 'https://app.example' }, authenticatedBy: 'cookie' });
    passes({ method: 'put', headers: { origin: 'https://app.example' }, authenticatedBy: 'cookie' });
    passes({ method: 'PATCH', headers: new Headers({ origin: 'https://app.example' }), authenticatedBy: 'cookie' });
  });

  it('accepts Sec-Fetch-Site: same-origin', () => {
    passes(cookiePost({ 'sec-fetch-site': 'same-origin' }));
    passes(cookiePost({ origin: 'https://api.example', 'sec-fetch-site': 'same-origin' }));
  });

  it('refuses a missing Origin', () => {
    refused(cookiePost({}));
    refused(cookiePost({ referer: 'https://app.example/' }));
    refused(cookiePost({ 'sec-fetch-site': 'same-site' }));
  });

  it('refuses Origin: null, even with a same-origin fetch site', () => {
    refused(cookiePost({ origin: 'null' }));
    refused(cookiePost({ origin: 'null', 'sec-fetch-site': 'same-origin' }));
  });

  it('refuses other origins, sibling subdomains and near misses', () => {
    for (const origin of [
      'https://evil.example',
      'https://api.app.example',
      'https://evil.app.example',
      'https://app.example.evil.example',
      'http://app.example',
      'https://app.example:8443',
      'https://app.example/',
      'https://APP.example',
      'http://localhost:5174',
      ' https://app.example',
    ]) {
      refused(cookiePost({ origin }));
      refused(cookiePost({ origin, 'sec-fetch-site': 'same-site' }));
      refused(cookiePost({ origin, 'sec-fetch-site': 'cross-site' }));
    }
  });

  it('refuses repeated Origin headers', () => {
    refused(cookiePost({ origin: ['https://app.example', 'https://evil.example'] }));
    refused(cookiePost({ origin: 'https://app.example, https://evil.example' }));
    refused(cookiePost({ origin: 'https://app.example', Origin: 'https://app.example' }));
    refused({ method: 'POST', headers: new Headers([['origin', 'https://app.example'], ['origin', 'https://evil.example']]), authenticatedBy: 'cookie' });
  });

  it('checks cookie-authenticated streams even when they are GETs', () => {
    refused({ method: 'GET', headers: {}, authenticatedBy: 'cookie', isStream: true });
    refused({ method: 'GET', headers: { origin: 'https://evil.example' }, authenticatedBy: 'cookie', isStream: true });
    passes({ method: 'GET', headers: { origin: 'https://app.example' }, authenticatedBy: 'cookie', isStream: true });
    passes({ method: 'GET', headers: { 'sec-fetch-site': 'same-origin' }, authenticatedBy: 'cookie', isStream: true });
  });

  it('does not check safe, non-stream cookie requests', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      passes({ method, headers: { origin: 'https://evil.example' }, authenticatedBy: 'cookie' });
    }
  });

  it('exempts Bearer and anonymous requests', () => {
    passes({ method: 'POST', headers: { origin: 'https://evil.example' }, authenticatedBy: 'bearer' });
    passes({ method: 'POST', headers: {}, authenticatedBy: 'bearer', isStream: true });
    passes({ method: 'POST', headers: { origin: 'null' }, authenticatedBy: 'none' });
  });

  it('treats an unusual method as unsafe', () => {
    refused({ method: 'PROPFIND', headers: {}, authenticatedBy: 'cookie' });
  });
});

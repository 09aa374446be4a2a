import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Byok } from '@byok/core';
import { defineOperation } from '../src/http/operation';
import type { ByokResponse, SseEvent } from '../src/http/types';
import type { DevIssuer } from '@byok/testing';
import { APP, devIssuer, makeByok, startIssuer } from './auth-flow-harness';

// CSRF lives in core's authenticate(): an event stream authenticated by the ambient
// cookie needs an allowed Origin even when it is a GET, through the HTTP surface.
describe('CSRF on cookie-authenticated event streams', () => {
  let issuer: DevIssuer;
  let byok: Byok;
  let accessToken: string;
  let opened = 0;

  async function* events(): AsyncIterable<SseEvent> {
    opened++;
    yield { event: 'message', data: { ok: true } };
  }

  beforeAll(async () => {
    issuer = await startIssuer();
    byok = await makeByok({ memory: true }, [devIssuer(issuer)]);
    for (const method of ['GET', 'POST'] as const) {
      byok.http.add(
        defineOperation({
          kind: 'raw',
          name: `test.stream.${method.toLowerCase()}`,
          summary: 'A test event stream',
          auth: 'required',
          produces: 'event-stream',
          input: z.object({}),
          http: { method, path: '/test/stream' },
          handler: async () => ({ status: 200, stream: events() }),
        }),
      );
    }
    const { user } = await byok.users.findOrCreate({ issuer: issuer.issuer, subject: 'streamer' });
    accessToken = (await byok.auth!.createSession(user.id)).accessToken;
  });
  afterAll(async () => {
    await byok?.close();
    await issuer?.close();
  });

  function send(method: string, path: string, headers: Record<string, string>): Promise<ByokResponse> {
    return byok.http.handle({ method, url: path, headers, body: method === 'POST' ? {} : undefined, remoteAddress: '203.0.113.7' });
  }
  const cookie = () => ({ cookie: `byok_at=${accessToken}` });

  function expectRefused(response: ByokResponse): void {
    expect(response.status).toBe(403);
    expect(response.body).toEqual({ error: { code: 'csrf_rejected', message: expect.any(String) } });
    expect(response.stream).toBeUndefined();
  }

  it('refuses a cookie-authenticated stream with a foreign, null or missing Origin, before the handler runs', async () => {
    const before = opened;
    for (const method of ['GET', 'POST']) {
      expectRefused(await send(method, '/test/stream', { ...cookie(), origin: 'https://evil.example' }));
      expectRefused(await send(method, '/test/stream', { ...cookie(), origin: 'null' }));
      expectRefused(await send(method, '/test/stream', cookie()));
      expectRefused(await send(method, '/test/stream', { ...cookie(), origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }));
    }
    expect(opened).toBe(before);
  });

  it('lets the stream through from an allowed Origin or a same-origin fetch, and with a Bearer token', async () => {
    for (const method of ['GET', 'POST']) {
      const allowed: Array<Record<string, string>> = [
        { ...cookie(), origin: APP },
        { ...cookie(), 'sec-fetch-site': 'same-origin' },
        { authorization: `Bearer ${accessToken}`, origin: 'https://evil.example' },
      ];
      for (const headers of allowed) {
        const response = await send(method, '/test/stream', headers);
        expect(response.status).toBe(200);
        expect(response.stream).toBeDefined();
      }
    }
  });

  it('does not check a safe request that is not a stream', async () => {
    const response = await send('GET', '/me', { ...cookie(), origin: 'https://evil.example' });
    expect(response.status).toBe(200);
  });
});

import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ByokError, createByok, type Byok } from '@byok/core';
import { defineOperation, toFetchHandler } from '@byok/core/http';

/**
 * toFetchHandler mounted in a real Hono 4 app served by @hono/node-server, over real
 * HTTP: byok's operations, errors, cookies, redirects, an event stream, a client that
 * leaves mid-stream, and bodies too large, malformed or too deep.
 */

interface Seen {
  abortedAtStart: boolean;
  aborted: Promise<void>;
  released: Promise<void>;
  ticks: number;
}

describe('toFetchHandler in Hono (@hono/node-server)', () => {
  let byok: Byok;
  let server: ServerType;
  let origin: string;
  let userId: string;
  const seen = new Map<string, Seen>();
  const feeds = new Map<string, { ticks: number }>();
  const json = { 'content-type': 'application/json' };

  beforeAll(async () => {
    byok = await createByok({
      database: { memory: true },
      http: { authenticate: async (req) => (req.headers['x-user'] ? { userId: req.headers['x-user'], via: 'host' } : null) },
    });
    userId = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'fetch' })).user.id;
    byok.http.add(
      defineOperation({
        kind: 'json',
        name: 'test.cookies',
        summary: 'sets two cookies',
        auth: 'none',
        input: z.object({ value: z.string() }),
        output: z.object({ ok: z.boolean() }),
        http: { method: 'POST', path: '/test/cookies' },
        handler: async ({ input, response }) => {
          response.cookies.push({ name: 'first', value: input.value, maxAgeSeconds: 60 }, { name: 'second', value: 'a b', sameSite: 'Strict', secure: true });
          return { ok: true };
        },
      }),
    );
    byok.http.add(
      defineOperation({
        kind: 'raw',
        name: 'test.redirect',
        summary: 'redirects with a cookie',
        auth: 'none',
        produces: 'redirect',
        input: z.object({}),
        http: { method: 'GET', path: '/test/redirect' },
        handler: async () => ({ status: 302, redirect: 'https://issuer.test/authorize?x=1', cookies: [{ name: 'login', value: 'state' }] }),
      }),
    );
    byok.http.add(
      defineOperation({
        kind: 'json',
        name: 'test.whoami',
        summary: 'the request as byok saw it',
        auth: 'none',
        input: z.object({ q: z.string().optional() }),
        output: z.object({ ip: z.string().nullable(), q: z.string().nullable(), url: z.string() }),
        http: { method: 'GET', path: '/test/whoami' },
        handler: async ({ input, meta, request }) => ({ ip: meta.ip, q: input.q ?? null, url: request.url }),
      }),
    );
    byok.http.add(
      defineOperation({
        kind: 'raw',
        name: 'test.ticks',
        summary: 'ticks until the client leaves',
        auth: 'none',
        produces: 'event-stream',
        input: z.object({ id: z.string(), limit: z.number().int().max(10_000).default(10_000), ignoreSignal: z.boolean().default(false) }),
        http: { method: 'POST', path: '/test/ticks' },
        handler: async ({ input, request }) => {
          const signal = request.signal!;
          let markAborted!: () => void;
          let markReleased!: () => void;
          const entry: Seen = {
            abortedAtStart: signal.aborted,
            aborted: new Promise<void>((resolve) => (markAborted = resolve)),
            released: new Promise<void>((resolve) => (markReleased = resolve)),
            ticks: 0,
          };
          seen.set(input.id, entry);
          signal.addEventListener('abort', () => markAborted(), { once: true });
          return {
            status: 200,
            stream: (async function* () {
              try {
                for (let i = 0; i < input.limit && (input.ignoreSignal || !signal.aborted); i++) {
                  entry.ticks = i + 1;
                  yield { event: 'tick', id: String(i), data: { i } };
                  await new Promise((r) => setTimeout(r, 20));
                }
              } finally {
                markReleased();
              }
            })(),
          };
        },
      }),
    );

    byok.http.add(
      defineOperation({
        kind: 'raw',
        name: 'test.feed',
        summary: 'a GET event stream that counts what it produced',
        auth: 'none',
        produces: 'event-stream',
        input: z.object({ id: z.string() }),
        http: { method: 'GET', path: '/test/feed' },
        handler: async ({ input }) => {
          const entry = { ticks: 0 };
          feeds.set(input.id, entry);
          return {
            status: 200,
            stream: (async function* () {
              for (let i = 0; i < 50; i++) {
                if (input.id === 'fail' && i === 1) throw new ByokError('provider_unavailable', 'The provider went away');
                entry.ticks = i + 1;
                yield { event: 'tick', data: { i } };
                await new Promise((r) => setTimeout(r, 5));
              }
            })(),
          };
        },
      }),
    );

    const handler = toFetchHandler(byok, { basePath: '/api' });
    const app = new Hono();
    app.get('/health', (c) => c.json({ host: true }));
    app.all('/api/*', (c) => handler(c.req.raw, { remoteAddress: getConnInfo(c).remote.address }));
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await byok.close();
  });

  it('serves JSON operations under the base path with byok’s status, body and caching', async () => {
    let res = await fetch(`${origin}/api/me`, { headers: { 'x-user': userId } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await bodyOf(res)).toMatchObject({ id: userId });

    res = await fetch(`${origin}/api/me/preferences`, { method: 'PATCH', headers: { ...json, 'x-user': userId }, body: JSON.stringify({ theme: 'dark' }) });
    expect(res.status).toBe(200);
    expect((await bodyOf(res)).theme).toBe('dark');
    expect((await byok.users.getPreferences(userId)).theme).toBe('dark');

    res = await fetch(`${origin}/api/me`);
    expect(res.status).toBe(401);
    expect(await bodyOf(res)).toEqual({ error: { code: 'unauthenticated', message: expect.any(String) } });

    res = await fetch(`${origin}/health`);
    expect(await bodyOf(res)).toEqual({ host: true });
  });

  it('hands byok the path below the base path with its query, and the client’s address', async () => {
    const res = await fetch(`${origin}/api/test/whoami?q=hello%20world`);
    expect(await bodyOf(res)).toEqual({ ip: '127.0.0.1', q: 'hello world', url: '/test/whoami?q=hello%20world' });
  });

  it('answers unknown paths 404 and wrong methods 405 with an Allow header', async () => {
    let res = await fetch(`${origin}/api/nope`);
    expect(res.status).toBe(404);
    expect((await bodyOf(res)).error.code).toBe('not_found');
    res = await fetch(`${origin}/api/me/preferences`, { method: 'DELETE', headers: { 'x-user': userId } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('GET');
    expect((await bodyOf(res)).error.code).toBe('method_not_allowed');
  });

  it('writes every cookie an operation sets as its own Set-Cookie header', async () => {
    const res = await fetch(`${origin}/api/test/cookies`, { method: 'POST', headers: json, body: JSON.stringify({ value: 'v=1;x' }) });
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual([
      'first=v%3D1%3Bx; Path=/; Max-Age=60; HttpOnly; SameSite=Lax',
      'second=a%20b; Path=/; HttpOnly; Secure; SameSite=Strict',
    ]);
    expect(await bodyOf(res)).toEqual({ ok: true });
  });

  it('answers a redirect with its Location and cookies', async () => {
    const res = await fetch(`${origin}/api/test/redirect`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://issuer.test/authorize?x=1');
    expect(res.headers.getSetCookie()).toEqual(['login=state; Path=/; HttpOnly; SameSite=Lax']);
  });

  it('streams an event stream as Server-Sent Events, with the handler’s signal live throughout', async () => {
    const res = await fetch(`${origin}/api/test/ticks`, { method: 'POST', headers: json, body: JSON.stringify({ id: 'whole', limit: 3 }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toBe('event: tick\nid: 0\ndata: {"i":0}\n\nevent: tick\nid: 1\ndata: {"i":1}\n\nevent: tick\nid: 2\ndata: {"i":2}\n\n');
    expect(seen.get('whole')!.abortedAtStart).toBe(false);
    await within(seen.get('whole')!.released, 1000, 'the finished stream’s producer never ran its cleanup');
  });

  it('aborts the handler’s signal and stops the producer when the client leaves mid-stream, and not before', async () => {
    const controller = new AbortController();
    const res = await fetch(`${origin}/api/test/ticks`, { method: 'POST', headers: json, body: JSON.stringify({ id: 'gone' }), signal: controller.signal });
    expect(res.status).toBe(200);
    await readUntil(res.body!.getReader(), 'id: 2\n');
    const entry = seen.get('gone')!;
    expect(entry.abortedAtStart).toBe(false);
    let abortedEarly = false;
    void entry.aborted.then(() => (abortedEarly = true));
    await new Promise((r) => setTimeout(r, 60));
    expect(abortedEarly).toBe(false);
    controller.abort();
    await within(entry.aborted, 2000, 'the handler’s signal never aborted');
    await within(entry.released, 2000, 'the stream’s producer never ran its cleanup');
    const ticks = entry.ticks;
    await new Promise((r) => setTimeout(r, 100));
    expect(entry.ticks).toBe(ticks);
  });

  it('stops a producer that ignores the signal when the client cancels the stream', async () => {
    const controller = new AbortController();
    const res = await fetch(`${origin}/api/test/ticks`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ id: 'deaf', ignoreSignal: true }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    await readUntil(res.body!.getReader(), 'id: 1\n');
    controller.abort();
    await within(seen.get('deaf')!.released, 2000, 'the stream’s producer kept running after the client left');
  });

  it('refuses a body over the limit with 413, declared or streamed, and changes nothing', async () => {
    const huge = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) });
    let res = await fetch(`${origin}/api/me`, { method: 'PATCH', headers: { ...json, 'x-user': userId }, body: huge });
    expect(res.status).toBe(413);
    // The unread rest of the body must not stay in front of the client's next request.
    expect(res.headers.get('connection')).toBe('close');
    expect((await bodyOf(res)).error.code).toBe('payload_too_large');

    // Chunked, without a Content-Length: counted as it arrives.
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"name":"'));
        controller.enqueue(chunk);
        if (++sent >= 32) {
          controller.enqueue(new TextEncoder().encode('"}'));
          controller.close();
        }
      },
    });
    res = await fetch(`${origin}/api/me`, { method: 'PATCH', headers: { ...json, 'x-user': userId }, body, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect((await bodyOf(res)).error.code).toBe('payload_too_large');
    expect((await byok.users.get(userId)).name).toBeNull();
  });

  it('refuses malformed JSON, a body that is not JSON and JSON nested too deep with 400', async () => {
    let res = await fetch(`${origin}/api/me/preferences`, { method: 'PATCH', headers: { ...json, 'x-user': userId }, body: '{"theme": "light",' });
    expect(res.status).toBe(400);
    expect(await bodyOf(res)).toEqual({ error: { code: 'bad_request', message: 'The request body is not valid JSON' } });

    res = await fetch(`${origin}/api/me/preferences`, { method: 'PATCH', headers: { 'content-type': 'text/plain', 'x-user': userId }, body: '{"theme":"light"}' });
    expect(res.status).toBe(400);
    expect((await bodyOf(res)).error).toEqual({ code: 'bad_request', message: 'The request body must be application/json' });

    const depth = 12_000;
    res = await fetch(`${origin}/api/me`, { method: 'PATCH', headers: { ...json, 'x-user': userId }, body: `{"custom":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}` });
    expect(res.status).toBe(400);
    expect((await bodyOf(res)).error.code).toBe('bad_request');
    expect((await byok.users.get(userId)).custom).toBeNull();
    expect((await byok.users.getPreferences(userId)).theme).toBe('dark');
  });

  it('answers HEAD on an event stream with its headers only, never starting the producer', async () => {
    const res = await fetch(`${origin}/api/test/feed?id=head`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(await res.text()).toBe('');
    await new Promise((r) => setTimeout(r, 150));
    expect(feeds.get('head')!.ticks).toBe(0);
    const get = await fetch(`${origin}/api/test/feed?id=get`);
    expect((await get.text()).match(/event: tick/g)).toHaveLength(50);
  });

  it('ends a stream whose producer fails with an error event in byok’s error shape', async () => {
    const res = await fetch(`${origin}/api/test/feed?id=fail`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(
      'event: tick\ndata: {"i":0}\n\nevent: error\ndata: {"error":{"code":"provider_unavailable","message":"The provider went away"}}\n\n',
    );
  });

  it('answers HEAD like GET without a body', async () => {
    const res = await fetch(`${origin}/api/me`, { method: 'HEAD', headers: { 'x-user': userId } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.text()).toBe('');
  });
});

async function bodyOf(res: Response): Promise<Record<string, any>> {
  return (await res.json()) as Record<string, any>;
}

/** Reads an event stream until `until` arrives; fails if the stream ends first. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, until: string): Promise<void> {
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes(until)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended before ${JSON.stringify(until)}: ${text}`);
    text += decoder.decode(value, { stream: true });
  }
}

function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(message)), ms))]);
}

import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createByok, type Byok } from '@byok/core';
import { defineOperation, nodeListener } from '@byok/core/http';
import { byokRouter } from '@byok/express';

/**
 * The Node request lifecycle as a real client sees it, through plain `node:http` and
 * through Express: a handler's signal stays live after its body was read, and aborts
 * only when the client goes away before the response finished.
 */
interface Seen {
  abortedAfterBody?: boolean;
  abortedAfterWait?: boolean;
  aborted: Promise<void>;
  markAborted: () => void;
}

function tracker(): Seen {
  let markAborted!: () => void;
  const aborted = new Promise<void>((resolve) => (markAborted = resolve));
  return { aborted, markAborted };
}

const hosts = {
  'node:http': (byok: Byok) => createServer(nodeListener(byok.http)),
  express: (byok: Byok) => {
    const app = express();
    app.use('/api', byokRouter(byok));
    return createServer(app);
  },
  'express with express.json()': (byok: Byok) => {
    const app = express();
    app.use(express.json());
    app.use('/api', byokRouter(byok));
    return createServer(app);
  },
} as const;

describe.each(Object.keys(hosts) as Array<keyof typeof hosts>)('Node request lifecycle via %s', (hostName) => {
  let byok: Byok;
  let server: Server;
  let base: string;
  let prefix: string;
  const seen: Record<string, Seen> = {};

  beforeAll(async () => {
    byok = await createByok({
      database: { memory: true },
      http: { authenticate: async (req) => (req.headers['x-user'] ? { userId: String(req.headers['x-user']), via: 'host' } : null) },
    });
    byok.http.add(
      defineOperation({
        kind: 'json',
        name: 'test.echo',
        summary: 'reads its body, then waits, recording its signal',
        auth: 'none',
        input: z.object({ id: z.string(), waitMs: z.number().int().max(5000) }),
        output: z.object({ abortedAfterBody: z.boolean(), abortedAfterWait: z.boolean() }),
        http: { method: 'POST', path: '/test/echo' },
        handler: async ({ input, request }) => {
          const s = (seen[input.id] = tracker());
          const signal = request.signal!;
          signal.addEventListener('abort', () => s.markAborted(), { once: true });
          s.abortedAfterBody = signal.aborted;
          await new Promise((r) => setTimeout(r, input.waitMs));
          s.abortedAfterWait = signal.aborted;
          return { abortedAfterBody: s.abortedAfterBody, abortedAfterWait: s.abortedAfterWait };
        },
      }),
    );
    byok.http.add(
      defineOperation({
        kind: 'raw',
        name: 'test.ticks',
        summary: 'ticks until the client leaves',
        auth: 'none',
        produces: 'event-stream',
        input: z.object({ id: z.string() }),
        http: { method: 'POST', path: '/test/ticks' },
        handler: async ({ input, request }) => {
          const s = (seen[input.id] = tracker());
          request.signal!.addEventListener('abort', () => s.markAborted(), { once: true });
          s.abortedAfterBody = request.signal!.aborted;
          return {
            status: 200,
            stream: (async function* () {
              for (let i = 0; i < 10_000 && !request.signal!.aborted; i++) {
                yield { event: 'tick', id: String(i), data: { i } };
                await new Promise((r) => setTimeout(r, 20));
              }
            })(),
          };
        },
      }),
    );
    server = hosts[hostName](byok).listen(0, '127.0.0.1');
    await once(server, 'listening');
    prefix = hostName === 'node:http' ? '' : '/api';
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await byok.close();
  });

  it('keeps a POST handler’s signal live after the body was read and through the response', async () => {
    const res = await fetch(`${base}/test/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'post-ok', waitMs: 50 }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ abortedAfterBody: false, abortedAfterWait: false });
  });

  it('aborts a JSON handler’s signal when the client disconnects before the response', async () => {
    const port = (server.address() as AddressInfo).port;
    const body = JSON.stringify({ id: 'post-gone', waitMs: 2000 });
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: `${prefix}/test/echo`,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    req.on('error', () => {});
    req.end(body);
    await waitFor(() => seen['post-gone'] !== undefined);
    expect(seen['post-gone']!.abortedAfterBody).toBe(false);
    req.destroy();
    await withTimeout(seen['post-gone']!.aborted, 1500, 'the handler’s signal never aborted');
  });

  it('aborts a streaming handler’s signal when the client leaves mid-stream, and not before', async () => {
    const controller = new AbortController();
    const res = await fetch(`${base}/test/ticks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'stream-gone' }),
      signal: controller.signal,
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('id: 2')) text += new TextDecoder().decode((await reader.read()).value);
    expect(seen['stream-gone']!.abortedAfterBody).toBe(false);
    let abortedEarly = false;
    void seen['stream-gone']!.aborted.then(() => (abortedEarly = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(abortedEarly).toBe(false);
    controller.abort();
    await withTimeout(seen['stream-gone']!.aborted, 1500, 'the stream handler’s signal never aborted');
  });

  it('answers a body nested thousands of levels deep with a typed 400, not a stack overflow', async () => {
    const user = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: `deep-${hostName}` })).user.id;
    const depth = 12_000; // about 72 KB, under express.json()’s 100 KB default
    const custom = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    const body = `{"custom":${custom}}`;
    expect(body.length).toBeGreaterThan(50_000);
    const res = await fetch(`${base}/me`, { method: 'PATCH', headers: { 'content-type': 'application/json', 'x-user': user }, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('bad_request');
    expect((await byok.users.get(user)).custom).toBeNull();
  });

  it('gives 405 its own code and an Allow header', async () => {
    const res = await fetch(`${base}/me/preferences`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('GET');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
  });
});

async function waitFor(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(message)), ms))]);
}

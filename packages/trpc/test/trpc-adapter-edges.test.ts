import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createByok, localKms, type Byok } from '@byok/core';
import { defineOperation } from '@byok/core/http';
import { gemini } from '@byok/gemini';
import { startGeminiStandIn, type LlmStandIn } from '@byok/testing/llm';
import { initTRPC, TRPCError } from '@trpc/server';
import { byokErrorFormatter, createByokContext, createByokRouter, type ByokRouter, type ByokTrpcContext } from '@byok/trpc';

const SECRET = 'postgres://admin:hunter2-very-secret@db.internal/prod';
const KEY = 'AIzaSyTRPC-edges-edges-edges-edges-0001';

describe('@byok/trpc at its edges: unexpected failures, a missing context, the request facts, the fetch adapter', () => {
  let byok: Byok;
  let standIn: LlmStandIn;
  let server: ReturnType<typeof createHTTPServer>;
  let url: string;
  let userId: string;
  const logs: string[] = [];

  beforeAll(async () => {
    standIn = await startGeminiStandIn({ keys: [KEY] });
    const sink = (obj: object, msg?: string) => void logs.push(JSON.stringify({ obj, msg }));
    byok = await createByok({
      database: { memory: true },
      kms: localKms({ keys: `1:${randomBytes(32).toString('base64')}` }),
      providers: [gemini({ baseUrl: standIn.url })],
      logger: { info: sink, warn: sink, error: sink },
      http: { authenticate: async (req) => (req.headers['x-user'] ? { userId: req.headers['x-user'], via: 'host' } : null) },
    });
    userId = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'edges' })).user.id;
    byok.http.add(
      defineOperation({
        kind: 'json',
        name: 'host.broken',
        summary: 'fails with a message that must not leave',
        auth: 'none',
        input: z.object({}),
        output: z.object({}),
        http: { method: 'GET', path: '/host/broken' },
        handler: async () => {
          throw new Error(`cannot connect to ${SECRET}`);
        },
      }),
    );
    server = createHTTPServer({ router: createByokRouter(byok), createContext: createByokContext });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await byok.close();
    await standIn.close();
  });

  it('answers an unexpected failure as internal with its message hidden, and logs it', async () => {
    const res = await fetch(`${url}/host.broken`);
    const body = await res.text();
    expect(res.status).toBe(500);
    expect(body).not.toContain('hunter2');
    const parsed = JSON.parse(body) as { error: { message: string; data: Record<string, unknown> } };
    expect(parsed.error.message).toBe('Internal error');
    expect(parsed.error.data).toMatchObject({ byokCode: 'internal', code: 'INTERNAL_SERVER_ERROR' });
    expect(parsed.error.data).not.toHaveProperty('stack');
    expect(logs.some((line) => line.includes('host.broken'))).toBe(true);
  });

  it('formats a host’s own procedures too once merged: byokCode from the tRPC code, an unexpected message hidden', async () => {
    const t = initTRPC.context<ByokTrpcContext>().create({ errorFormatter: byokErrorFormatter });
    const host = t.router({
      leaky: t.procedure.query(() => {
        throw new Error(`cannot connect to ${SECRET}`);
      }),
      refused: t.procedure.query(() => {
        throw new TRPCError({ code: 'FORBIDDEN', message: 'Members only' });
      }),
    });
    const merged = createHTTPServer({ router: t.mergeRouters(host, createByokRouter(byok)), createContext: createByokContext });
    await new Promise<void>((resolve) => merged.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(merged.address() as AddressInfo).port}`;
      const leaky = await fetch(`${base}/leaky`);
      const body = await leaky.text();
      expect(body).not.toContain('hunter2');
      expect(JSON.parse(body).error).toMatchObject({ message: 'Internal error', data: { byokCode: 'internal' } });
      const refused = (await (await fetch(`${base}/refused`)).json()) as { error: { message: string; data: { byokCode: string } } };
      expect(refused.error).toMatchObject({ message: 'Members only', data: { byokCode: 'forbidden' } });
      // byok's own procedures in the merged router keep their codes.
      const anonymous = (await (await fetch(`${base}/me.get`)).json()) as { error: { data: { byokCode: string } } };
      expect(anonymous.error.data.byokCode).toBe('unauthenticated');
    } finally {
      await new Promise((resolve) => merged.close(resolve));
    }
  });

  it('records the caller’s address and user agent from the request, as the HTTP routes do', async () => {
    const client = createTRPCClient<ByokRouter>({ links: [httpLink({ url, headers: { 'x-user': userId, 'user-agent': 'trpc-edges/1.0' } })] });
    await client.user.setApiKey.mutate({ apiKey: KEY });
    const trail = await byok.audit.list(userId, {});
    const set = trail.items.find((row) => row.action === 'key.set');
    expect(set).toMatchObject({ ip: '127.0.0.1', userAgent: 'trpc-edges/1.0', outcome: 'success' });
  });

  it('refuses to run without createByokContext, as a configuration error', async () => {
    const bare = createHTTPServer({ router: createByokRouter(byok), createContext: () => ({}) as never });
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    try {
      const client = createTRPCClient<ByokRouter>({ links: [httpLink({ url: `http://127.0.0.1:${(bare.address() as AddressInfo).port}` })] });
      const error = await client.providers.list.query().catch((e: unknown) => e as TRPCClientError<ByokRouter>);
      expect(error).toBeInstanceOf(TRPCClientError);
      expect((error as TRPCClientError<ByokRouter>).data?.byokCode).toBe('config_invalid');
    } finally {
      await new Promise((resolve) => bare.close(resolve));
    }
  });

  it('reads a web Request through the fetch adapter (headers, path, the peer address the host passes)', async () => {
    const router = createByokRouter(byok);
    const call = (init: RequestInit & { path: string }) =>
      fetchRequestHandler({
        endpoint: '/trpc',
        req: new Request(`http://127.0.0.1/trpc/${init.path}`, init),
        router,
        createContext: ({ req }) => createByokContext({ req, remoteAddress: '198.51.100.23' }),
      });
    const status = await call({ path: 'user.getApiKeyStatus', headers: { 'x-user': userId } });
    expect(((await status.json()) as { result: { data: unknown } }).result.data).toMatchObject({ hasKey: true, last4: KEY.slice(-4) });

    const removed = await call({ path: 'user.removeApiKey', method: 'POST', headers: { 'x-user': userId, 'content-type': 'application/json', 'user-agent': 'fetch-host' }, body: '{}' });
    expect(removed.status).toBe(200);
    const trail = await byok.audit.list(userId, {});
    expect(trail.items.find((row) => row.action === 'key.removed')).toMatchObject({ ip: '198.51.100.23', userAgent: 'fetch-host' });
  });
});

import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createByok, localKms, type Byok } from '@byok/core';
import { defineOperation } from '@byok/core/http';
import { byokRouter } from '@byok/express';
import { gemini } from '@byok/gemini';
import { startGeminiStandIn, type LlmStandIn } from '@byok/testing';

const CANARY = 'AIzaSyEXPRESS-canary-canary-canary-00099';

describe('byokRouter (Express 5)', () => {
  let byok: Byok;
  let server: Server;
  let base: string;
  let standIn: LlmStandIn;
  let userId: string;
  const logs: string[] = [];

  beforeAll(async () => {
    standIn = await startGeminiStandIn({ keys: [CANARY] });
    const sink = (obj: object, msg?: string) => void logs.push(JSON.stringify({ obj, msg }));
    byok = await createByok({
      database: { memory: true },
      kms: localKms({ keys: `1:${Buffer.alloc(32, 3).toString('base64')}` }),
      providers: [gemini({ baseUrl: standIn.url })],
      logger: { info: sink, warn: sink, error: sink },
      http: { authenticate: async (req) => (req.headers['x-user'] ? { userId: req.headers['x-user'], via: 'host' } : null) },
    });
    userId = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'express' })).user.id;
    byok.http.add(
      defineOperation({
        kind: 'raw',
        name: 'test.ticks',
        summary: 'three events',
        auth: 'none',
        produces: 'event-stream',
        input: z.object({}),
        http: { method: 'POST', path: '/test/ticks' },
        handler: async () => ({
          status: 200,
          stream: (async function* () {
            for (let i = 1; i <= 3; i++) yield { event: 'tick', id: String(i), data: { i } };
          })(),
        }),
      }),
    );
    const app = express();
    app.use('/api', byokRouter(byok));
    app.use((_req, res) => void res.status(404).json({ host: 'fallthrough' }));
    server = createServer(app).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await byok.close();
    await standIn.close();
  });

  const json = { 'content-type': 'application/json' };

  it('serves operations with status, JSON body and no-store caching', async () => {
    const res = await fetch(`${base}/me`, { headers: { 'x-user': userId } });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toMatchObject({ id: userId });
  });

  it('passes paths byok does not serve to the host', async () => {
    const res = await fetch(`${base}/not-byok`);
    expect(await res.json()).toEqual({ host: 'fallthrough' });
  });

  it('turns malformed JSON, wrong content types and huge bodies into typed errors', async () => {
    let res = await fetch(`${base}/keys/gemini`, { method: 'PUT', headers: { ...json, 'x-user': userId }, body: `{"apiKey": "${CANARY}",` });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(JSON.parse(text).error.code).toBe('bad_request');
    expect(text).not.toContain(CANARY);

    res = await fetch(`${base}/keys/gemini`, { method: 'PUT', headers: { 'content-type': 'text/plain', 'x-user': userId }, body: CANARY });
    expect(res.status).toBe(400);
    expect(await res.text()).not.toContain(CANARY);

    res = await fetch(`${base}/me`, { method: 'PATCH', headers: { ...json, 'x-user': userId }, body: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
    expect(logs.join('\n')).not.toContain(CANARY);
  });

  it('does not take a form that express.urlencoded() parsed as JSON input', async () => {
    const app = express();
    app.use(express.urlencoded({ extended: true }), express.json());
    app.use('/api', byokRouter(byok));
    const formServer = createServer(app).listen(0, '127.0.0.1');
    await new Promise((r) => formServer.once('listening', r));
    const formBase = `http://127.0.0.1:${(formServer.address() as AddressInfo).port}/api`;
    try {
      const before = (await byok.users.get(userId)).name;
      const res = await fetch(`${formBase}/me`, { method: 'PATCH', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-user': userId }, body: 'name=from-a-form' });
      expect(res.status).toBe(400);
      expect((await byok.users.get(userId)).name).toBe(before);
      // The same field as JSON, through the host's express.json(), is taken.
      const ok = await fetch(`${formBase}/me`, { method: 'PATCH', headers: { ...json, 'x-user': userId }, body: JSON.stringify({ name: 'from-json' }) });
      expect(ok.status).toBe(200);
      expect((await byok.users.get(userId)).name).toBe('from-json');
    } finally {
      await new Promise((r) => formServer.close(r));
    }
  });

  it('stores a key sent over HTTP and never returns it', async () => {
    const res = await fetch(`${base}/keys/gemini`, { method: 'PUT', headers: { ...json, 'x-user': userId }, body: JSON.stringify({ apiKey: CANARY }) });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).not.toContain(CANARY);
    expect(JSON.parse(text)).toMatchObject({ provider: 'gemini', status: 'valid', last4: CANARY.slice(-4) });
  });

  it('writes event streams as Server-Sent Events', async () => {
    const res = await fetch(`${base}/test/ticks`, { method: 'POST' });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const body = await res.text();
    expect(body).toBe(
      'event: tick\nid: 1\ndata: {"i":1}\n\nevent: tick\nid: 2\ndata: {"i":2}\n\nevent: tick\nid: 3\ndata: {"i":3}\n\n',
    );
  });

  it('works behind a host body parser too', async () => {
    const app = express();
    app.use(express.json());
    app.use(byokRouter(byok));
    const s = createServer(app).listen(0, '127.0.0.1');
    await new Promise((r) => s.once('listening', r));
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    const res = await fetch(`${url}/me/preferences`, { method: 'PATCH', headers: { ...json, 'x-user': userId }, body: JSON.stringify({ theme: 'dark' }) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { theme: string }).theme).toBe('dark');
    await new Promise((r) => s.close(r));
  });
});

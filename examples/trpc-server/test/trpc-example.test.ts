import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTRPCClient, httpBatchStreamLink, httpSubscriptionLink, splitLink, TRPCClientError } from '@trpc/client';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar, driveLogin } from '@byok/testing/oidc';
import type { AppRouter } from '../src/app-router';
import { OFFLINE_SAMPLE_KEY, resolveExampleMode } from '@byok/example-shared';
import { chatOnce, launchChromium } from '../../shared/test/page-smoke';
import { startExample, type RunningExample } from '../src/start-example';

describe('examples/trpc-server in offline mode', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'byok-trpc-example-'));
  let example: RunningExample;
  let issuerPort: number;

  beforeAll(async () => {
    issuerPort = await freePort();
    example = await startExample({ port: 0, issuerPort, dataDir, env: {} });
  });
  afterAll(async () => {
    await example?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Signs in through the development issuer over HTTP, as a browser would; returns the session cookies. */
  async function signIn(base: string, login: string): Promise<string> {
    const jar = new CookieJar();
    const start = await fetch(`${base}/api/auth/login/dev?returnTo=/`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    jar.store(start.url, start.headers);
    const callback = await driveLogin(start.headers.get('location')!, { login });
    const done = await fetch(callback, { redirect: 'manual', headers: { cookie: jar.header(callback) } });
    expect(done.status).toBe(303);
    jar.store(callback, done.headers);
    return jar.header(`${base}/trpc/`);
  }

  function clientFor(base: string, cookie: string) {
    const headers = { cookie, origin: base };
    return createTRPCClient<AppRouter>({
      links: [
        splitLink({
          condition: (op) => op.type === 'subscription',
          true: httpSubscriptionLink({
            url: `${base}/trpc`,
            EventSource,
            eventSourceOptions: { fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...headers } }) },
          }),
          false: httpBatchStreamLink({ url: `${base}/trpc`, headers }),
        }),
      ],
    });
  }

  it('says it is offline on its page, and serves the OAuth redirects, the JWKS and OpenAPI from core’s HTTP handler', async () => {
    expect(example.mode).toBe('offline');
    expect(new URL(example.url).hostname).toBe('127.0.0.1');
    const page = await (await fetch(`${example.url}/`)).text();
    expect(page).toContain('<strong>Offline mode</strong>');
    expect(page).toContain('"@byok/client":"/vendor/byok-client.js"');
    const config = (await (await fetch(`${example.url}/example/config.json`)).json()) as { mode: string; host: string; providers: Array<{ id: string; sampleKey: string }> };
    expect(config).toMatchObject({ mode: 'offline', host: 'tRPC' });
    expect(config.providers.find((p) => p.id === 'gemini')!.sampleKey).toBe(OFFLINE_SAMPLE_KEY);
    expect((await fetch(`${example.url}/vendor/byok-client.js`)).status).toBe(200);

    const jwks = await fetch(`${example.url}/api/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(((await jwks.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
    const openapi = await fetch(`${example.url}/api/openapi.json`);
    expect(((await openapi.json()) as { openapi: string }).openapi).toMatch(/^3\.1/);
    const login = await fetch(`${example.url}/api/auth/login/dev`, { redirect: 'manual' });
    expect(login.status).toBe(302);
    expect(login.headers.get('location')).toContain(example.offline!.issuer.issuer);
  });

  it('serves the shared chat page: in a browser it signs in, stores a key and streams a reply over byok’s HTTP routes', { timeout: 45_000 }, async () => {
    const browser = await launchChromium();
    try {
      const { reply, problems } = await chatOnce(browser, { url: example.url, host: 'tRPC', text: 'hello from the tRPC example' });
      expect(reply).toBe('echo: hello from the tRPC example');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('signs in through the development issuer, then sets a key and chats over tRPC with the typed client', async () => {
    const cookie = await signIn(example.url, 'alice');
    const client = clientFor(example.url, cookie);

    expect(await client.example.info.query()).toEqual({ mode: 'offline' });
    expect((await client.me.get.query()).email).toBe(example.offline!.issuer.users.find((u) => u.sub === 'alice')!.email);

    const key = example.offline!.sampleKey;
    expect(await client.user.setApiKey.mutate({ apiKey: key })).toMatchObject({ status: 'valid', last4: key.slice(-4) });
    expect(await client.user.getApiKeyStatus.query()).toMatchObject({ hasKey: true, provider: 'gemini' });

    const session = await client.chat.sessions.create.mutate({ provider: 'gemini', model: 'gemini-2.5-flash' });
    const reply = await client.chat.messages.send.mutate({ sessionId: session.id, text: 'Hello from tRPC' });
    const types: string[] = [];
    for await (const event of reply) types.push(event.data.type);
    expect(types[0]).toBe('start');
    expect(types).toContain('text-delta');
    expect(types.at(-1)).toBe('finish');
    const messages = await client.chat.messages.list.query({ sessionId: session.id });
    expect(messages.items.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);

    // Nothing streams now: the resume subscription just ends.
    const resumed = await new Promise<number>((resolve, reject) => {
      let count = 0;
      client.chat.stream.resume.subscribe({ sessionId: session.id }, { onData: () => void count++, onComplete: () => resolve(count), onError: reject });
    });
    expect(resumed).toBe(0);
  });

  it('answers errors with data.byokCode, bounds the body size, and refuses a cross-site mutation', async () => {
    const anonymous = createTRPCClient<AppRouter>({ links: [httpBatchStreamLink({ url: `${example.url}/trpc` })] });
    const error = await anonymous.me.get.query().catch((e: unknown) => e as TRPCClientError<AppRouter>);
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<AppRouter>).data?.byokCode).toBe('unauthenticated');

    const huge = await fetch(`${example.url}/trpc/me.update`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { error: { data: { byokCode: string } } }).error.data.byokCode).toBe('payload_too_large');

    const cookie = await signIn(example.url, 'bob');
    const res = await fetch(`${example.url}/trpc/me.preferences.update`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, origin: 'https://evil.example' },
      body: JSON.stringify({ theme: 'dark' }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { data: { byokCode: string } } }).error.data.byokCode).toBe('csrf_rejected');
  });

  it('keeps stored keys readable across a restart: the master-key file is generated once under data/', async () => {
    const client = clientFor(example.url, await signIn(example.url, 'alice'));
    expect(await client.user.getApiKeyStatus.query()).toMatchObject({ hasKey: true });
    await example.close();
    example = await startExample({ port: 0, issuerPort, dataDir, env: {} });
    // The same issuer port, so the same identity; the stored key still opens and checks out.
    const again = clientFor(example.url, await signIn(example.url, 'alice'));
    expect(await again.user.testApiKey.mutate()).toEqual({ provider: 'gemini', status: 'valid', reason: null, stored: true });
  });

  it('refuses offline mode off loopback and in production, and half a real configuration', async () => {
    expect(() => resolveExampleMode({}, '0.0.0.0')).toThrow(/loopback/);
    expect(() => resolveExampleMode({ NODE_ENV: 'production' }, '127.0.0.1')).toThrow(/production/);
    expect(() => resolveExampleMode({ GOOGLE_CLIENT_ID: 'x' }, '127.0.0.1')).toThrow(/GOOGLE_CLIENT_SECRET, BYOK_MASTER_KEYS, PUBLIC_URL, BYOK_AUDIT_CHECKPOINT_KEY, BYOK_AUDIT_CHECKPOINT_FILE are missing/);
    await expect(startExample({ port: 0, host: '0.0.0.0', dataDir, env: {} })).rejects.toMatchObject({ code: 'config_invalid' });
    const real = { GOOGLE_CLIENT_ID: 'i', GOOGLE_CLIENT_SECRET: 's', PUBLIC_URL: 'https://byok.example', BYOK_AUDIT_CHECKPOINT_KEY_FILE: '/k/c.pem', BYOK_AUDIT_CHECKPOINT_FILE: '/w/c.jsonl' };
    expect(resolveExampleMode({ ...real, BYOK_MASTER_KEY_FILE: '/k' }, '0.0.0.0')).toMatchObject({
      kind: 'google',
      clientId: 'i',
      clientSecret: 's',
      publicUrl: 'https://byok.example',
      checkpointKey: { file: '/k/c.pem' },
      checkpointFile: '/w/c.jsonl',
    });
    // Sealing with AWS KMS or Cloud KMS needs no master keys.
    expect(resolveExampleMode({ ...real, BYOK_KMS: 'aws' }, '0.0.0.0')).toMatchObject({ kind: 'google' });
    expect(() => resolveExampleMode(real, '0.0.0.0')).toThrow(/BYOK_MASTER_KEYS is missing/);
  });
});

/** A port nothing listens on now, for a development issuer that must keep its URL across a restart. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.once('error', reject);
  });
}

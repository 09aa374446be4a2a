import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isByokClientError } from '../src/index';
import { startClientHarness, type ClientHarness } from './client-harness';
import { REPLY, chatSession, readAll, storedReply, textOf, until } from './chat-helpers';

describe('the UI message stream through the client', () => {
  let h: ClientHarness;
  beforeAll(async () => {
    h = await startClientHarness();
  });
  afterAll(async () => {
    await h?.close();
  });
  afterEach(() => h.gemini.reset());

  it('streams a reply whose text and message id are the stored assistant message', async () => {
    const { client } = await h.browser('alice');
    const sessionId = await chatSession(h, client);
    const chunks = await readAll(await client.stream('chat.messages.send', { sessionId, text: 'Hello' }));
    expect(chunks[0]!.type).toBe('start');
    expect(chunks.at(-1)!.type).toBe('finish');
    const stored = await storedReply(client, sessionId);
    expect(stored.status).toBe('complete');
    expect(textOf(chunks)).toBe(REPLY);
    expect(stored.text).toBe(REPLY);
    expect((chunks[0] as { messageId?: string }).messageId).toBe(stored.id);
  });

  it('resumes a connection the server dropped mid-reply with Last-Event-ID: the same text, no chunk twice', async () => {
    const { client } = await h.browser('alice');
    const sessionId = await chatSession(h, client, 40);
    h.dropAfter(/\/chat\/sessions\/[^/]+\/messages$/, 6);
    const chunks = await readAll(await client.stream('chat.messages.send', { sessionId, text: 'Hello again' }, { reconnect: { initialDelayMs: 20 } }));
    const resumes = h.seen.filter((r) => r.method === 'GET' && r.path === `/chat/sessions/${sessionId}/stream`);
    expect(resumes).toHaveLength(1);
    expect(resumes[0]!.headers['last-event-id']).toMatch(/^[0-9a-f-]{36}:[1-9]\d*:[1-9]\d*(?:\.\d+)?$/);
    expect(textOf(chunks)).toBe(REPLY);
    expect(chunks.filter((c) => c.type === 'start')).toHaveLength(1);
    expect(chunks.filter((c) => c.type === 'finish')).toHaveLength(1);
    const stored = await storedReply(client, sessionId);
    expect(stored.text).toBe(textOf(chunks));
  });

  it('a turn whose connection dropped before its first event is sent again under the same idempotency key: one turn', async () => {
    const { client } = await h.browser('alice');
    const sessionId = await chatSession(h, client, 40);
    h.dropAfter(/\/chat\/sessions\/[^/]+\/messages$/, 0);
    const chunks = await readAll(await client.stream('chat.messages.send', { sessionId, text: 'Only once' }, { reconnect: { initialDelayMs: 20 } }));
    const sends = h.seen.filter((r) => r.method === 'POST' && r.path === `/chat/sessions/${sessionId}/messages`);
    expect(sends).toHaveLength(2);
    expect(sends[1]!.headers['idempotency-key']).toBe(sends[0]!.headers['idempotency-key']);
    expect(textOf(chunks)).toBe(REPLY);
    const page = await client.call('chat.messages.list', { sessionId });
    expect(page.items.map((m) => [m.role, m.text])).toEqual([
      ['user', 'Only once'],
      ['assistant', REPLY],
    ]);
  });

  it('without reconnects a dropped stream ends with stream_interrupted', async () => {
    const { client } = await h.browser('alice');
    const sessionId = await chatSession(h, client, 40);
    h.dropAfter(/\/chat\/sessions\/[^/]+\/messages$/, 4);
    const stream = await client.stream('chat.messages.send', { sessionId, text: 'Once' }, { reconnect: false });
    const error = await readAll(stream).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isByokClientError(error) && error.code).toBe('stream_interrupted');
  });

  it('stops reading when its AbortSignal aborts (the reply goes on on the server)', async () => {
    const { client } = await h.browser('alice');
    const sessionId = await chatSession(h, client, 40);
    const controller = new AbortController();
    const stream = await client.stream('chat.messages.send', { sessionId, text: 'Abort me' }, { signal: controller.signal });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const chunk of stream) {
        seen.push(chunk.type);
        if (chunk.type === 'text-delta') controller.abort();
      }
    })();
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen.filter((t) => t === 'text-delta')).toHaveLength(1);
    await until(async () => (await storedReply(client, sessionId)).status === 'complete');
    expect((await storedReply(client, sessionId)).text).toBe(REPLY);

    // Also when reconnects are off: an abort is an abort, not a broken stream.
    const off = new AbortController();
    const unresumed = await client.stream('chat.messages.send', { sessionId, text: 'Abort me too' }, { signal: off.signal, reconnect: false });
    const readingOff = (async () => {
      for await (const chunk of unresumed) if (chunk.type === 'text-delta') off.abort();
    })();
    await expect(readingOff).rejects.toMatchObject({ name: 'AbortError' });
    await until(async () => (await storedReply(client, sessionId)).status === 'complete');

    const early = new AbortController();
    early.abort();
    await expect(client.stream('chat.messages.send', { sessionId, text: 'Never sent' }, { signal: early.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('resume() joins a live reply from another tab, and is null when nothing streams', async () => {
    const { client, fetch } = await h.browser('alice');
    const sessionId = await chatSession(h, client, 40);
    expect(await client.resume({ sessionId })).toBeNull();
    const first = await client.stream('chat.messages.send', { sessionId, text: 'Two tabs' });
    const firstText = readAll(first).then(textOf);
    const { createByokClient } = await import('../src/index');
    const otherTab = createByokClient({ baseUrl: h.base, fetch });
    const joined = await otherTab.resume({ sessionId });
    expect(joined).not.toBeNull();
    expect(textOf(await readAll(joined!))).toBe(REPLY);
    expect(await firstText).toBe(REPLY);
  });

  it('a refused turn rejects with the server’s error before any stream', async () => {
    const { client } = await h.browser('bob');
    const session = await client.call('chat.sessions.create', { provider: 'gemini', model: h.model });
    const error = await client.stream('chat.messages.send', { sessionId: session.id, text: 'No key yet' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isByokClientError(error) && [error.code, error.status]).toEqual(['key_missing', 412]);
  });
});

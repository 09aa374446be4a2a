import { createTRPCClient, httpBatchStreamLink, httpLink, httpSubscriptionLink, splitLink, TRPCClientError } from '@trpc/client';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UiMessageChunk } from '@byok/core';
import type { ByokChatStreamEvent, ByokRouter } from '@byok/trpc';
import { CANARY, startTrpcHarness, type TrpcHarness } from './trpc-harness';

const REPLY = Array.from({ length: 24 }, (_, i) => `word${i}`).join(' ');
const PROMPT = 'Tell me a long story about tRPC';

type Client = ReturnType<typeof createTRPCClient<ByokRouter>>;

describe('chat through @byok/trpc: a reply streamed from a mutation, dropped, and resumed by a subscription', () => {
  let h: TrpcHarness;
  /** Every URL the clients requested, with the method. */
  const requested: string[] = [];

  beforeAll(async () => {
    h = await startTrpcHarness({ rateLimits: { key_set: { perIp: 1000 }, chat_send: { perIp: 1000 } } });
    h.gemini.setReply(() => REPLY);
    // A reply in many chunks, slowly: the client can leave in the middle of it.
    h.gemini.configure({ chunks: 12, chunkDelayMs: 60 });
  });
  afterAll(async () => {
    await h?.close();
  });

  async function signedIn(subject: string): Promise<{ client: Client; headers: Record<string, string> }> {
    const { user } = await h.byok.users.findOrCreate({ issuer: 'https://trpc.test', subject });
    const { accessToken } = await h.byok.auth.createSession(user.id);
    const headers = { authorization: `Bearer ${accessToken}` };
    const recording: typeof fetch = (input, init) => {
      requested.push(`${init?.method ?? 'GET'} ${String(input instanceof Request ? input.url : input)}`);
      return fetch(input, init);
    };
    const client = createTRPCClient<ByokRouter>({
      links: [
        splitLink({
          condition: (op) => op.type === 'subscription',
          true: httpSubscriptionLink({
            url: h.trpcUrl,
            EventSource,
            // The eventsource ponyfill lets a Node client send its bearer token.
            eventSourceOptions: { fetch: (input, init) => recording(input, { ...init, headers: { ...init?.headers, ...headers } }) },
          }),
          false: httpBatchStreamLink({ url: h.trpcUrl, headers, fetch: recording }),
        }),
      ],
    });
    await client.user.setApiKey.mutate({ apiKey: CANARY });
    return { client, headers };
  }

  /** Subscribes to the resume and collects events until the reply's `finish` (or the stream ends). */
  function resume(client: Client, input: { sessionId: string; lastEventId?: string }): Promise<ByokChatStreamEvent[]> {
    return new Promise((resolve, reject) => {
      const events: ByokChatStreamEvent[] = [];
      const sub = client.chat.stream.resume.subscribe(input, {
        onData(event) {
          events.push(event);
          if (event.data.type === 'finish') {
            sub.unsubscribe();
            resolve(events);
          }
        },
        onComplete: () => resolve(events),
        onError: (error) => reject(error),
      });
    });
  }

  const text = (events: ByokChatStreamEvent[]) =>
    events
      .map((e) => e.data)
      .filter((c): c is Extract<UiMessageChunk, { type: 'text-delta' }> => c.type === 'text-delta')
      .map((c) => c.delta)
      .join('');
  const position = (event: ByokChatStreamEvent) => Number(event.id.split(':')[1]);

  it('streams the reply from chat.messages.send, and after the client drops it, resumes exactly the rest from lastEventId', async () => {
    const { client } = await signedIn('resume');
    const session = await client.chat.sessions.create.mutate({ provider: 'gemini', model: 'gemini-2.5-flash' });

    const abort = new AbortController();
    const reply = await client.chat.messages.send.mutate({ sessionId: session.id, text: PROMPT }, { signal: abort.signal });
    const first: ByokChatStreamEvent[] = [];
    try {
      for await (const event of reply) {
        first.push(event);
        if (event.data.type === 'text-delta' && first.filter((e) => e.data.type === 'text-delta').length === 3) abort.abort();
      }
    } catch (error) {
      // Leaving mid-stream ends the iteration with the abort.
      expect(abort.signal.aborted).toBe(true);
      void error;
    }
    expect(first[0]!.data.type).toBe('start');
    expect(text(first).length).toBeGreaterThan(0);
    expect(text(first).length).toBeLessThan(REPLY.length);
    const lastSeen = first.at(-1)!;

    // The run goes on without the client; resume from the last id seen.
    const rest = await resume(client, { sessionId: session.id, lastEventId: lastSeen.id });
    expect(position(rest[0]!)).toBe(position(lastSeen) + 1);
    for (let i = 1; i < rest.length; i++) expect(position(rest[i]!)).toBe(position(rest[i - 1]!) + 1);
    expect(rest.at(-1)!.data.type).toBe('finish');
    // Nothing twice, nothing lost.
    expect(text(first) + text(rest)).toBe(REPLY);

    const stored = await client.chat.messages.list.query({ sessionId: session.id });
    expect(stored.items.map((m) => [m.role, m.status, m.text])).toEqual([
      ['user', 'complete', PROMPT],
      ['assistant', 'complete', REPLY],
    ]);

    // The message text never went into a URL: it was only ever in a mutation's body.
    for (const url of requested) expect(decodeURIComponent(url)).not.toContain(PROMPT);
    expect(requested.some((url) => url.startsWith('GET ') && url.includes('chat.stream.resume') && url.includes('lastEventId'))).toBe(true);
    expect(requested.some((url) => url.startsWith('POST ') && url.includes('chat.messages.send'))).toBe(true);
  });

  it('reconnects a broken resume by itself: httpSubscriptionLink sends the last tracked id, and nothing comes twice', async () => {
    const { client, headers } = await signedIn('reconnect');
    const session = await client.chat.sessions.create.mutate({ provider: 'gemini', model: 'gemini-2.5-flash' });
    const abort = new AbortController();
    const reply = await client.chat.messages.send.mutate({ sessionId: session.id, text: PROMPT }, { signal: abort.signal });
    const iterator = reply[Symbol.asyncIterator]();
    await iterator.next();
    abort.abort();
    await iterator.return?.();

    // The first resume connection breaks after four events; the second one must carry the last id.
    const resumeRequests: Array<{ url: string; lastEventId: string | null }> = [];
    const breaking: typeof fetch = async (input, init) => {
      const request = new Request(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), ...headers } });
      resumeRequests.push({ url: request.url, lastEventId: request.headers.get('last-event-id') });
      const response = await fetch(request);
      if (resumeRequests.length > 1 || !response.body) return response;
      let events = 0;
      const cut = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          controller.enqueue(chunk);
          events += (new TextDecoder().decode(chunk).match(/^id: /gm) ?? []).length;
          if (events >= 4) controller.error(new Error('connection dropped'));
        },
      });
      return new Response(response.body.pipeThrough(cut), { status: response.status, headers: response.headers });
    };
    const reconnecting = createTRPCClient<ByokRouter>({
      links: [httpSubscriptionLink({ url: h.trpcUrl, EventSource, eventSourceOptions: { fetch: breaking } })],
    });
    const events = await resume(reconnecting, { sessionId: session.id });

    expect(resumeRequests.length).toBeGreaterThanOrEqual(2);
    expect(resumeRequests[0]!.lastEventId).toBeNull();
    expect(resumeRequests[1]!.lastEventId).toMatch(/^[0-9a-f-]{36}:\d+:\d+(?:\.\d+)?$/);
    expect(position(events[0]!)).toBe(1);
    for (let i = 1; i < events.length; i++) expect(position(events[i]!)).toBe(position(events[i - 1]!) + 1);
    expect(text(events)).toBe(REPLY);
  });

  it('stops a live reply with chat.stop: the stream ends and the reply is kept as incomplete', async () => {
    const { client } = await signedIn('stop');
    const session = await client.chat.sessions.create.mutate({ provider: 'gemini', model: 'gemini-2.5-flash' });
    const reply = await client.chat.messages.send.mutate({ sessionId: session.id, text: 'Go on and on' });
    const events: ByokChatStreamEvent[] = [];
    let stopped: Awaited<ReturnType<Client['chat']['stop']['mutate']>> | undefined;
    for await (const event of reply) {
      events.push(event);
      if (event.data.type === 'text-delta' && stopped === undefined) stopped = await client.chat.stop.mutate({ sessionId: session.id });
    }
    expect(stopped?.stopped).toBe(true);
    expect(text(events).length).toBeLessThan(REPLY.length);
    const [, assistant] = (await client.chat.messages.list.query({ sessionId: session.id })).items;
    expect(assistant).toMatchObject({ role: 'assistant', status: 'incomplete' });
    expect(REPLY.startsWith(assistant!.text)).toBe(true);
  });

  it('refuses a turn up front as the mutation’s error, and a resume of another user’s session as not_found', async () => {
    const { client } = await signedIn('refusals');
    const missing = await client.chat.messages.send.mutate({ sessionId: '0190a6f1-7c1e-7000-8000-000000000001', text: 'hi' }).then(
      () => null,
      (e: unknown) => e as TRPCClientError<ByokRouter>,
    );
    expect(missing).toBeInstanceOf(TRPCClientError);
    expect(missing!.data?.byokCode).toBe('not_found');

    const other = await signedIn('refusals-other');
    const theirs = await other.client.chat.sessions.create.mutate({ provider: 'gemini', model: 'gemini-2.5-flash' });
    await expect(resume(client, { sessionId: theirs.id })).rejects.toMatchObject({ data: { byokCode: 'not_found' } });
    // Another user's session is not found even with an id of a run of theirs; a made-up id is refused.
    const mine = await client.chat.sessions.create.mutate({ provider: 'gemini', model: 'gemini-2.5-flash' });
    await expect(resume(client, { sessionId: mine.id, lastEventId: 'not-an-id' })).rejects.toMatchObject({ data: { byokCode: 'validation_failed' } });
    await expect(resume(client, { sessionId: mine.id, lastEventId: 7 as unknown as string })).rejects.toMatchObject({ data: { byokCode: 'validation_failed', code: 'BAD_REQUEST' } });
  });

  it('refuses a cookie-authenticated resume from a foreign Origin (a stream is checked even on GET)', async () => {
    const cookie = await h.signIn('bob');
    const me = createTRPCClient<ByokRouter>({ links: [httpLink({ url: h.trpcUrl, headers: { cookie, origin: h.origin } })] });
    const session = await me.chat.sessions.create.mutate({ provider: 'gemini', model: 'gemini-2.5-flash' });
    const subscriber = (origin: string) =>
      createTRPCClient<ByokRouter>({
        links: [
          httpSubscriptionLink({
            url: h.trpcUrl,
            EventSource,
            eventSourceOptions: { fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, cookie, origin } }) },
          }),
        ],
      });
    await expect(resume(subscriber('http://evil.example'), { sessionId: session.id })).rejects.toMatchObject({ data: { byokCode: 'csrf_rejected' } });
    // From the app's own origin the same resume is fine: nothing streams, so it just ends.
    expect(await resume(subscriber(h.origin), { sessionId: session.id })).toEqual([]);
  });
});

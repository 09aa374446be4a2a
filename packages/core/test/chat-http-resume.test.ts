import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { selectTestBackends } from '@byok/testing';
import { generations, longText, until } from './chat-harness';
import { readUntil, sseEvents, startHttpChat, type HttpChat, type ServedByok } from './chat-http-harness';

const FULL = longText(40);
const json = { 'content-type': 'application/json' };

// Two byok instances sharing PostgreSQL and Redis: A on a plain node:http listener, B under
// Express. A produces every reply; the tests read, resume and stop it from A and from B.
describe.each(selectTestBackends(['postgres'] as const))('the chat stream over HTTP on %s with Redis, across two instances', (kind) => {
  let t: HttpChat;
  let a: ServedByok;
  let b: ServedByok;
  let auth: Record<string, string>;

  beforeAll(async () => {
    t = await startHttpChat({ backend: kind, serving: 'node', redis: true });
    a = t.a;
    b = await t.another('express');
    auth = await t.bearer(t.h.alice);
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(() => {
    t.h.gemini.reset();
    t.h.gemini.setReply(() => FULL);
    t.h.gemini.configure({ chunks: 40, chunkDelayMs: 25 });
  });

  async function newSession(): Promise<string> {
    const res = await fetch(`${a.base}/chat/sessions`, { method: 'POST', headers: { ...auth, ...json }, body: JSON.stringify({ provider: 'gemini', model: 'gemini-2.5-flash' }) });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  }

  function send(on: ServedByok, sessionId: string, text: string, signal?: AbortSignal): Promise<Response> {
    return fetch(`${on.base}/chat/sessions/${sessionId}/messages`, { method: 'POST', headers: { ...auth, ...json }, body: JSON.stringify({ text }), ...(signal ? { signal } : {}) });
  }

  function resume(on: ServedByok, sessionId: string, lastEventId?: string): Promise<Response> {
    return fetch(`${on.base}/chat/sessions/${sessionId}/stream`, { headers: { ...auth, ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}) } });
  }

  async function stored(sessionId: string) {
    const res = await fetch(`${b.base}/chat/sessions/${sessionId}/messages`, { headers: auth });
    return ((await res.json()) as { items: Array<{ id: string; role: string; status: string; text: string; errorCode: string | null }> }).items;
  }

  const deltas = (text: string) => sseEvents(text).filter((e) => e.data.includes('"text-delta"')).length;
  const lastId = (text: string) => sseEvents(text).filter((e) => e.id !== undefined).at(-1)!.id!;

  for (const where of ['the same instance', 'another instance'] as const) {
    it(`resumes a dropped connection on ${where} with Last-Event-ID: what came before plus the rest is, byte for byte, the uninterrupted run`, async () => {
      const sessionId = await newSession();
      const controller = new AbortController();
      const sent = await send(a, sessionId, 'Tell me a long story', controller.signal);
      expect(sent.status).toBe(200);
      // An uninterrupted reader of the same run, from its first event.
      const whole = (await resume(where === 'the same instance' ? a : b, sessionId)).text();
      const before = await readUntil(sent, (text) => deltas(text) >= 5, controller);
      expect(before).not.toContain('[DONE]');
      const last = lastId(before);

      const rest = await resume(where === 'the same instance' ? a : b, sessionId, last);
      expect(rest.status).toBe(200);
      expect(rest.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
      const after = await rest.text();
      expect(after.startsWith('id: ')).toBe(true);
      expect(sseEvents(after)[0]!.id).not.toBe(last);
      expect(before + after).toBe(await whole);
      expect((await whole).endsWith('data: [DONE]\n\n')).toBe(true);

      const reply = (await stored(sessionId)).at(-1)!;
      expect(reply).toMatchObject({ role: 'assistant', status: 'complete', text: `${FULL}` });
      const streamedText = sseEvents(await whole)
        .filter((e) => e.data.includes('"text-delta"'))
        .map((e) => (JSON.parse(e.data) as { delta: string }).delta)
        .join('');
      expect(streamedText).toBe(reply.text);
      // and once it ended, a reconnect from the last id gets just the end of the stream
      const none = await (await resume(b, sessionId, lastId(await whole))).text();
      expect(none).toBe('data: [DONE]\n\n');
      expect(generations(t.h.gemini)).toHaveLength(1);
    });
  }

  it('reconnects without Last-Event-ID (useChat resume) on another instance to the whole live reply, and answers 204 when nothing streams', async () => {
    const sessionId = await newSession();
    expect((await resume(b, sessionId)).status).toBe(204);
    const sent = await send(a, sessionId, 'Go on');
    const fromB = await resume(b, sessionId);
    expect(fromB.status).toBe(200);
    const [own, other] = await Promise.all([sent.text(), fromB.text()]);
    expect(other).toBe(own);
    const none = await resume(b, sessionId);
    expect(none.status).toBe(204);
    expect(await none.text()).toBe('');
  });

  it('stops a live reply from another instance: the reply is stored incomplete with the text so far, and the sender’s stream ends', async () => {
    const sessionId = await newSession();
    const sent = await send(a, sessionId, 'Talk for a while');
    const reader = sent.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (deltas(text) < 3) text += decoder.decode((await reader.read()).value, { stream: true });
    const stop = await fetch(`${b.base}/chat/sessions/${sessionId}/stop`, { method: 'POST', headers: { ...auth, ...json }, body: '{}' });
    expect(stop.status).toBe(200);
    const result = (await stop.json()) as { stopped: boolean; message: { status: string; errorCode: string; text: string } };
    expect(result.stopped).toBe(true);
    expect(result.message).toMatchObject({ status: 'incomplete', errorCode: 'cancelled' });
    expect(result.message.text.length).toBeGreaterThan(0);
    expect(FULL.startsWith(result.message.text)).toBe(true);
    expect(result.message.text.length).toBeLessThan(FULL.length);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect((await stored(sessionId)).at(-1)).toMatchObject({ status: 'incomplete', text: result.message.text });
  });

  it('stops a live reply on the instance that produces it', async () => {
    const sessionId = await newSession();
    const controller = new AbortController();
    const sent = await send(a, sessionId, 'Talk', controller.signal);
    await readUntil(sent, (text) => deltas(text) >= 2, controller);
    const stop = await fetch(`${a.base}/chat/sessions/${sessionId}/stop`, { method: 'POST', headers: { ...auth, ...json }, body: '{}' });
    expect(((await stop.json()) as { message: { status: string } }).message.status).toBe('incomplete');
    expect((await stored(sessionId)).at(-1)!.status).toBe('incomplete');
  });

  it('does not stop a reply when its client goes away: it is finished and stored complete', async () => {
    const sessionId = await newSession();
    const controller = new AbortController();
    const sent = await send(a, sessionId, 'Keep going', controller.signal);
    await readUntil(sent, (text) => deltas(text) >= 2, controller);
    await until(async () => (await stored(sessionId)).at(-1)!.status !== 'streaming', 20_000);
    expect((await stored(sessionId)).at(-1)).toMatchObject({ role: 'assistant', status: 'complete', text: FULL });
  });

  it('lets a reconnect on another instance go at once when its client leaves, freeing its Redis connection', async () => {
    const sessionId = await newSession();
    // The provider sends a little, then nothing: the run stays live with no chunk to wake a reader.
    t.h.gemini.injectFault({ kind: 'hang', afterChunks: 1 }, { route: 'stream' });
    const sent = await send(a, sessionId, 'Think first');
    const controller = new AbortController();
    const tail = await fetch(`${b.base}/chat/sessions/${sessionId}/stream`, { headers: auth, signal: controller.signal });
    await readUntil(tail, (text) => deltas(text) >= 1, controller);
    // B's tail reads on a connection of its own, blocked in XREAD until its client left
    const xreads = async () => ((await t.redis!.call('CLIENT', 'LIST')) as string).split('\n').filter((line) => / cmd=xread/.test(line)).length;
    await until(async () => (await xreads()) === 0, 1_000);
    await fetch(`${a.base}/chat/sessions/${sessionId}/stop`, { method: 'POST', headers: { ...auth, ...json }, body: '{}' });
    expect(await sent.text()).toContain('data: [DONE]');
  });

  it('stops the reply at once when its client leaves on a host that asks for it (abortOnDisconnect)', async () => {
    const c = await t.another('node', { chat: { abortOnDisconnect: true } });
    const sessionId = await newSession();
    t.h.gemini.injectFault({ kind: 'hang', afterChunks: 1 }, { route: 'stream' });
    const controller = new AbortController();
    const sent = await send(c, sessionId, 'Never mind', controller.signal);
    await readUntil(sent, (text) => deltas(text) >= 1, controller);
    await until(async () => (await stored(sessionId)).at(-1)!.status !== 'streaming', 1_000);
    expect((await stored(sessionId)).at(-1)).toMatchObject({ role: 'assistant', status: 'incomplete', errorCode: 'aborted' });
  });

  it('refuses a Last-Event-ID byok did not send, and one of a reply of another session', async () => {
    const sessionId = await newSession();
    const res = await resume(b, sessionId, 'not-an-id');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('validation_failed');
    const other = await newSession();
    const body = await (await send(a, other, 'hi')).text();
    const foreign = await resume(b, sessionId, lastId(body));
    expect(foreign.status).toBe(404);
  });
});

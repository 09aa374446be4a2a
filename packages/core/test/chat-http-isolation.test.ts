import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generations, longText } from './chat-harness';
import { APP_ORIGIN, sseEvents, startHttpChat, type HttpChat } from './chat-http-harness';

const json = { 'content-type': 'application/json' };

// Alice's real session, reply and run; Bob signed in for real. Served by plain node:http.
describe('chat over HTTP: another user’s session is not found, and a cross-site send is refused', () => {
  let t: HttpChat;
  let base: string;
  let alice: Record<string, string>;
  let bob: Record<string, string>;
  let sessionId: string;
  let userMessageId: string;
  let replyId: string;
  let lastEventId: string;
  let bobSession: string;

  const call = (method: string, path: string, headers: Record<string, string>, body?: unknown) =>
    fetch(`${base}${path}`, { method, headers: { ...headers, ...(body !== undefined ? json : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });

  async function snapshot() {
    const session = await (await call('GET', `/chat/sessions/${sessionId}`, alice)).json();
    const messages = await (await call('GET', `/chat/sessions/${sessionId}/messages`, alice)).json();
    return { session, messages };
  }

  beforeAll(async () => {
    t = await startHttpChat({ backend: 'memory', serving: 'node' });
    base = t.a.base;
    alice = await t.bearer(t.h.alice);
    bob = await t.bearer(t.h.bob);
    sessionId = ((await (await call('POST', '/chat/sessions', alice, { provider: 'gemini', model: 'gemini-2.5-flash', title: 'Alice’s' })).json()) as { id: string }).id;
    const body = await (await call('POST', `/chat/sessions/${sessionId}/messages`, alice, { text: 'Alice’s secret question', clientMessageId: 'alice-1' })).text();
    const events = sseEvents(body);
    lastEventId = events.filter((e) => e.id).at(-1)!.id!;
    const turn = JSON.parse(events[1]!.data) as { data: { userMessage: { id: string }; assistantMessageId: string } };
    userMessageId = turn.data.userMessage.id;
    replyId = turn.data.assistantMessageId;
    bobSession = ((await (await call('POST', '/chat/sessions', bob, { provider: 'gemini', model: 'gemini-2.5-flash' })).json()) as { id: string }).id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('gives Bob 404 not_found on every route of Alice’s session, and changes nothing', async () => {
    const before = await snapshot();
    const calls = generations(t.h.gemini).length;
    t.h.gemini.setReply(() => longText(20));
    const attempts: Array<[string, string, unknown?, Record<string, string>?]> = [
      ['POST', `/chat/sessions/${sessionId}/messages`, { text: 'Bob writes here' }],
      ['POST', `/chat/sessions/${sessionId}/messages`, { id: sessionId, messages: [{ id: 'b-1', role: 'user', parts: [{ type: 'text', text: 'useChat from Bob' }] }], trigger: 'submit-message' }],
      ['POST', `/chat/sessions/${sessionId}/messages`, { id: sessionId, messages: [], trigger: 'regenerate-message', messageId: replyId }],
      ['POST', `/chat/sessions/${sessionId}/messages/${userMessageId}/edit`, { text: 'Bob’s edit' }],
      ['POST', `/chat/sessions/${sessionId}/messages/${replyId}/regenerate`, {}],
      ['GET', `/chat/sessions/${sessionId}/stream`],
      ['GET', `/chat/sessions/${sessionId}/stream`, undefined, { 'last-event-id': lastEventId }],
      ['POST', `/chat/sessions/${sessionId}/stop`, {}],
      ['GET', `/chat/sessions/${sessionId}/messages`],
      ['GET', `/chat/sessions/${sessionId}/messages/${replyId}`],
      ['GET', `/chat/sessions/${sessionId}`],
      ['PATCH', `/chat/sessions/${sessionId}`, { title: 'Bob’s now' }],
      ['POST', `/chat/sessions/${sessionId}/branch`, { messageId: replyId }],
      ['GET', `/chat/sessions/${sessionId}/usage`],
      ['GET', `/chat/sessions/${sessionId}/context`],
      ['DELETE', `/chat/sessions/${sessionId}`],
      // Alice's run and message named from Bob's own session
      ['GET', `/chat/sessions/${bobSession}/stream`, undefined, { 'last-event-id': lastEventId }],
      ['GET', `/chat/sessions/${bobSession}/messages/${replyId}`],
      ['POST', `/chat/sessions/${bobSession}/messages/${replyId}/regenerate`, {}],
      ['POST', `/chat/sessions/${bobSession}/branch`, { messageId: replyId }],
    ];
    for (const [method, path, body, headers] of attempts) {
      const res = await call(method, path, { ...bob, ...headers }, body);
      const text = await res.text();
      expect([method, path, res.status], text).toEqual([method, path, 404]);
      expect(JSON.parse(text)).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
      expect(text).not.toContain('secret');
    }
    const list = (await (await call('GET', '/chat/sessions', bob)).json()) as { items: Array<{ id: string }> };
    expect(list.items.map((s) => s.id)).toEqual([bobSession]);
    expect(await snapshot()).toEqual(before);
    expect(generations(t.h.gemini)).toHaveLength(calls);
    // Alice still reads all of it
    expect((await call('GET', `/chat/sessions/${sessionId}/stream`, alice)).status).toBe(204);
    expect((await call('GET', `/chat/sessions/${sessionId}/messages/${replyId}`, alice)).status).toBe(200);
  });

  it('refuses a cookie-authenticated send or resume from a foreign Origin with 403, storing nothing and calling no provider', async () => {
    const cookie = await t.cookie(t.h.alice);
    const before = await snapshot();
    const calls = generations(t.h.gemini).length;
    for (const origin of ['https://evil.example', 'null', undefined]) {
      const res = await fetch(`${base}/chat/sessions/${sessionId}/messages`, {
        method: 'POST',
        headers: { cookie, ...json, ...(origin !== undefined ? { origin } : {}) },
        body: JSON.stringify({ text: 'forged from another site' }),
      });
      expect(res.status, String(origin)).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('csrf_rejected');
    }
    const resume = await fetch(`${base}/chat/sessions/${sessionId}/stream`, { headers: { cookie, origin: 'https://evil.example' } });
    expect(resume.status).toBe(403);
    expect(await snapshot()).toEqual(before);
    expect(generations(t.h.gemini)).toHaveLength(calls);

    // the app's own page, with the same cookie, is served
    const own = await fetch(`${base}/chat/sessions/${sessionId}/messages`, { method: 'POST', headers: { cookie, origin: APP_ORIGIN, ...json }, body: JSON.stringify({ text: 'from the app' }) });
    expect(own.status).toBe(200);
    expect(await own.text()).toContain('data: [DONE]');
  });
});

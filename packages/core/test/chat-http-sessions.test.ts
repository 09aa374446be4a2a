import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generations } from './chat-harness';
import { sseEvents, startHttpChat, type HttpChat } from './chat-http-harness';

const json = { 'content-type': 'application/json' };

interface Session {
  id: string;
  title: string | null;
  provider: string;
  model: string;
  activeLeafId: string | null;
  usage: { inputTokens: number; outputTokens: number };
}
interface Message {
  id: string;
  seq: number;
  role: string;
  text: string;
  status: string;
  clientMessageId: string | null;
  siblings: { count: number; index: number; ids: string[] };
  usage: { inputTokens: number; outputTokens: number } | null;
}
interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

// Sessions, the active path, branches, usage and idempotency over HTTP, under Express.
describe('chat sessions and messages over HTTP', () => {
  let t: HttpChat;
  let base: string;
  let auth: Record<string, string>;

  const call = async <T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${base}${path}`, { method, headers: { ...auth, ...headers, ...(body !== undefined ? json : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, body: (type.startsWith('application/json') ? JSON.parse(text) : text) as T };
  };
  const code = (res: { body: unknown }) => (res.body as { error: { code: string } }).error.code;
  const newSession = async (extra: Record<string, unknown> = {}) => (await call<Session>('POST', '/chat/sessions', { provider: 'gemini', model: 'gemini-2.5-flash', ...extra })).body;
  const turn = async (sessionId: string, text: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => call<string>('POST', `/chat/sessions/${sessionId}/messages`, { text, ...extra }, headers);

  beforeAll(async () => {
    t = await startHttpChat({ backend: 'memory', serving: 'express' });
    base = t.a.base;
    auth = await t.bearer(t.h.alice);
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(() => {
    t.h.gemini.reset();
  });

  it('creates, lists by most recent activity with a cursor, gets, renames, changes model and deletes a session', async () => {
    const created = await call<Session>('POST', '/chat/sessions', { provider: 'gemini', model: 'gemini-2.5-flash', title: 'First', systemPrompt: 'Be brief.' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title: 'First', provider: 'gemini', model: 'gemini-2.5-flash', activeLeafId: null });
    const second = await newSession({ title: 'Second' });
    const third = await newSession({ title: 'Third' });
    await turn(created.body.id, 'bump'); // most recent activity now

    const page1 = await call<Page<Session>>('GET', '/chat/sessions?limit=2');
    expect(page1.body.items.map((s) => s.id)).toEqual([created.body.id, third.id]);
    expect(page1.body.nextCursor).toEqual(expect.any(String));
    const page2 = await call<Page<Session>>('GET', `/chat/sessions?limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.items.map((s) => s.id)).toEqual([second.id]);
    expect(page2.body.nextCursor).toBeNull();
    expect(code(await call('GET', '/chat/sessions?cursor=bm9wZQ'))).toBe('invalid_cursor');
    expect(code(await call('GET', '/chat/sessions?limit=101'))).toBe('validation_failed');

    expect((await call<Session>('GET', `/chat/sessions/${second.id}`)).body.title).toBe('Second');
    expect((await call<Session>('PATCH', `/chat/sessions/${second.id}`, { title: 'Renamed' })).body.title).toBe('Renamed');
    expect((await call<Session>('PATCH', `/chat/sessions/${second.id}`, { model: 'gemini-2.5-pro' })).body).toMatchObject({ title: 'Renamed', model: 'gemini-2.5-pro' });
    expect((await call<Session>('PATCH', `/chat/sessions/${second.id}`, { title: null, model: 'gemini-2.5-flash', provider: 'openai' })).body).toMatchObject({
      title: null,
      model: 'gemini-2.5-flash',
      provider: 'openai',
    });
    const unchanged = (await call<Session>('GET', `/chat/sessions/${second.id}`)).body;
    for (const bad of [{}, { provider: 'openai' }, { title: '' }, { provider: 'nope', model: 'x' }, { title: 'x', admin: true }]) {
      const res = await call('PATCH', `/chat/sessions/${second.id}`, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(code(res)).toBe('validation_failed');
    }
    expect((await call<Session>('GET', `/chat/sessions/${second.id}`)).body).toEqual(unchanged);
    expect(code(await call('POST', '/chat/sessions', { provider: 'nope', model: 'x' }))).toBe('validation_failed');

    expect((await call('DELETE', `/chat/sessions/${created.body.id}`)).status).toBe(204);
    expect((await call('GET', `/chat/sessions/${created.body.id}`)).status).toBe(404);
    expect((await call('GET', `/chat/sessions/${created.body.id}/messages`)).status).toBe(404);
  });

  it('pages the active path in seq order both ways, each message with its siblings, and switches branch', async () => {
    const session = await newSession();
    for (const text of ['one', 'two', 'three']) expect((await turn(session.id, text)).status).toBe(200);
    const all = (await call<Page<Message>>('GET', `/chat/sessions/${session.id}/messages?limit=100`)).body.items;
    expect(all.map((m) => m.text)).toEqual(['one', 'echo: one', 'two', 'echo: two', 'three', 'echo: three']);
    expect(all.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);

    const newest = await call<Page<Message>>('GET', `/chat/sessions/${session.id}/messages?limit=4`);
    expect(newest.body.items.map((m) => m.seq)).toEqual([3, 4, 5, 6]);
    const older = await call<Page<Message>>('GET', `/chat/sessions/${session.id}/messages?limit=4&cursor=${newest.body.nextCursor}`);
    expect(older.body.items.map((m) => m.seq)).toEqual([1, 2]);
    expect(older.body.nextCursor).toBeNull();
    const first = await call<Page<Message>>('GET', `/chat/sessions/${session.id}/messages?limit=4&direction=forward`);
    expect(first.body.items.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    const later = await call<Page<Message>>('GET', `/chat/sessions/${session.id}/messages?limit=4&direction=forward&cursor=${first.body.nextCursor}`);
    expect(later.body.items.map((m) => m.seq)).toEqual([5, 6]);
    expect(code(await call('GET', `/chat/sessions/${session.id}/messages?direction=sideways`))).toBe('validation_failed');

    // edit "two": a new branch; regenerate its reply: a sibling reply
    const two = all[2]!;
    const edited = await call<string>('POST', `/chat/sessions/${session.id}/messages/${two.id}/edit`, { text: 'TWO' });
    expect(edited.status).toBe(200);
    let path = (await call<Page<Message>>('GET', `/chat/sessions/${session.id}/messages`)).body.items;
    expect(path.map((m) => m.text)).toEqual(['one', 'echo: one', 'TWO', 'echo: TWO']);
    expect(path[2]!.siblings).toEqual({ count: 2, index: 1, ids: [two.id, path[2]!.id] });
    const regenerated = await call<string>('POST', `/chat/sessions/${session.id}/messages/${path[3]!.id}/regenerate`, {});
    expect(regenerated.status).toBe(200);
    path = (await call<Page<Message>>('GET', `/chat/sessions/${session.id}/messages`)).body.items;
    expect(path[3]!.siblings).toMatchObject({ count: 2, index: 1 });

    const switched = await call<Session>('POST', `/chat/sessions/${session.id}/branch`, { messageId: two.id });
    expect(switched.body.activeLeafId).toBe(all[5]!.id);
    path = (await call<Page<Message>>('GET', `/chat/sessions/${session.id}/messages`)).body.items;
    expect(path.map((m) => m.text)).toEqual(all.map((m) => m.text));
    expect((await call<Message>('GET', `/chat/sessions/${session.id}/messages/${two.id}`)).body.siblings).toMatchObject({ count: 2, index: 0 });
  });

  it('sends byok’s own body with parts, a parent, and an Idempotency-Key: a retry is the same turn, other input with the key is 409', async () => {
    const session = await newSession();
    const first = await call<string>('POST', `/chat/sessions/${session.id}/messages`, { parts: [{ type: 'text', text: 'Hi ' }, { type: 'text', text: 'there' }] }, { 'idempotency-key': 'key-1' });
    expect(first.status).toBe(200);
    const retry = await call<string>('POST', `/chat/sessions/${session.id}/messages`, { parts: [{ type: 'text', text: 'Hi ' }, { type: 'text', text: 'there' }] }, { 'idempotency-key': 'key-1' });
    expect(retry.status).toBe(200);
    const startOf = (body: string) => JSON.parse(sseEvents(body)[0]!.data) as { messageId: string };
    expect(startOf(retry.body).messageId).toBe(startOf(first.body).messageId);
    expect(generations(t.h.gemini)).toHaveLength(1);
    const conflict = await call('POST', `/chat/sessions/${session.id}/messages`, { text: 'Something else' }, { 'idempotency-key': 'key-1' });
    expect(conflict.status).toBe(409);
    expect(code(conflict)).toBe('idempotency_conflict');
    const same = await call('POST', `/chat/sessions/${session.id}/messages`, { text: 'x', clientMessageId: 'key-2' }, { 'idempotency-key': 'key-3' });
    expect(code(same)).toBe('validation_failed');
    expect(code(await call('POST', `/chat/sessions/${session.id}/messages`, { text: 'x' }, { 'idempotency-key': 'has spaces' }))).toBe('validation_failed');
    const path = (await call<Page<Message>>('GET', `/chat/sessions/${session.id}/messages`)).body.items;
    expect(path.map((m) => [m.role, m.text, m.clientMessageId])).toEqual([
      ['user', 'Hi there', 'key-1'],
      ['assistant', 'echo: Hi there', null],
    ]);

    // a new branch from the root (parentId null) with the body's clientMessageId
    const root = await turn(session.id, 'fresh start', { parentId: null, clientMessageId: 'key-4' });
    expect(root.status).toBe(200);
    const branched = (await call<Page<Message>>('GET', `/chat/sessions/${session.id}/messages`)).body.items;
    expect(branched.map((m) => m.text)).toEqual(['fresh start', 'echo: fresh start']);
    expect(branched[0]!.siblings.count).toBe(2);
    for (const bad of [{}, { text: '' }, { text: 'x', extra: 1 }, { parts: [{ type: 'image', url: 'x' }] }]) {
      const res = await call('POST', `/chat/sessions/${session.id}/messages`, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
    expect(generations(t.h.gemini)).toHaveLength(2);
  });

  it('reports usage per session and per user over a time range, and previews the context', async () => {
    const from = Date.now();
    const one = await newSession();
    const two = await newSession();
    await turn(one.id, 'count me');
    await turn(two.id, 'and me too');
    const replies = async (sessionId: string) => (await call<Page<Message>>('GET', `/chat/sessions/${sessionId}/messages`)).body.items.filter((m) => m.role === 'assistant');
    const [r1] = await replies(one.id);
    const [r2] = await replies(two.id);
    const mine = await call<{ inputTokens: number; outputTokens: number; replies: number }>('GET', `/chat/sessions/${one.id}/usage`);
    expect(mine.body).toMatchObject({ inputTokens: r1!.usage!.inputTokens, outputTokens: r1!.usage!.outputTokens, replies: 1 });
    const range = await call<{ inputTokens: number; replies: number }>('GET', `/chat/usage?from=${from}&to=${Date.now() + 1}`);
    expect(range.body).toMatchObject({ replies: 2, inputTokens: r1!.usage!.inputTokens + r2!.usage!.inputTokens });
    expect((await call<{ replies: number }>('GET', `/chat/usage?to=${from}`)).body.replies).toBe(
      (await call<{ replies: number }>('GET', '/chat/usage')).body.replies - (await call<{ replies: number }>('GET', `/chat/usage?from=${from}`)).body.replies,
    );
    expect(code(await call('GET', '/chat/usage?from=yesterday'))).toBe('validation_failed');
    const preview = await call<{ messages: unknown[]; model: string }>('GET', `/chat/sessions/${one.id}/context`);
    expect(preview.status).toBe(200);
    expect(preview.body.model).toBe('gemini-2.5-flash');
    expect(preview.body.messages).toHaveLength(2);
  });

  it('publishes every chat route in the OpenAPI document', async () => {
    const doc = (await call<{ paths: Record<string, Record<string, { operationId: string }>> }>('GET', '/openapi.json')).body;
    const ids = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((m) => m.operationId));
    expect(ids).toEqual(
      expect.arrayContaining([
        'chat.sessions.create',
        'chat.sessions.list',
        'chat.sessions.get',
        'chat.sessions.update',
        'chat.sessions.delete',
        'chat.sessions.usage',
        'chat.usage',
        'chat.context.preview',
        'chat.messages.list',
        'chat.messages.get',
        'chat.branch.switch',
        'chat.messages.send',
        'chat.messages.edit',
        'chat.messages.regenerate',
        'chat.stream.resume',
        'chat.stop',
      ]),
    );
  });
});

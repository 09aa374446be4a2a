import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectTestBackends } from '@byok/testing';
import { codeOf, startChatHarness, type ChatHarness } from './chat-harness';

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('chat sessions on %s', (kind) => {
  let h: ChatHarness;
  let clock = 1_800_000_000_000;
  beforeAll(async () => {
    h = await startChatHarness(kind, { clock: { now: () => clock } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('creates, lists by most recent activity in keyset pages, renames and changes the model', async () => {
    const { byok, bob } = h;
    const made = [];
    for (let i = 0; i < 5; i += 1) {
      clock += 10;
      made.push(await byok.chat.createSession(bob, { provider: 'gemini', model: 'gemini-2.5-flash', title: `s${i}` }));
    }
    expect(made[0]).toMatchObject({ title: 's0', provider: 'gemini', model: 'gemini-2.5-flash', systemPrompt: null, activeLeafId: null });
    expect(made[0]!.usage).toEqual({ inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 });
    clock += 10;
    await byok.chat.renameSession(bob, made[1]!.id, { title: '  Renamed  ' });
    const first = await byok.chat.listSessions(bob, { limit: 2 });
    expect(first.items.map((s) => s.title)).toEqual(['Renamed', 's4']);
    const second = await byok.chat.listSessions(bob, { limit: 2, cursor: first.nextCursor! });
    expect(second.items.map((s) => s.title)).toEqual(['s3', 's2']);
    const third = await byok.chat.listSessions(bob, { limit: 2, cursor: second.nextCursor! });
    expect(third.items.map((s) => s.title)).toEqual(['s0']);
    expect(third.nextCursor).toBeNull();
    expect(await codeOf(byok.chat.listSessions(bob, { cursor: 'bm90LWEtY3Vyc29y' }))).toBe('invalid_cursor');

    const changed = await byok.chat.changeModel(bob, made[0]!.id, { provider: 'openai', model: 'gpt-4o' });
    expect(changed).toMatchObject({ provider: 'openai', model: 'gpt-4o' });
    expect(await codeOf(byok.chat.changeModel(bob, made[0]!.id, { provider: 'nope', model: 'x' }))).toBe('validation_failed');
    expect(await codeOf(byok.chat.changeModel(bob, made[0]!.id, { model: 'has space' }))).toBe('validation_failed');
    expect((await byok.chat.renameSession(bob, made[0]!.id, { title: null })).title).toBeNull();
    expect(await codeOf(byok.chat.renameSession(bob, made[0]!.id, { title: '' }))).toBe('validation_failed');
  });

  it('deletes a session with all its messages, audited', async () => {
    const { byok, bob } = h;
    const session = await byok.chat.createSession(bob, { provider: 'gemini', model: 'gemini-2.5-flash' });
    for await (const _ of byok.chat.send(bob, session.id, { text: 'one' })) void _;
    const [user, reply] = (await byok.chat.listMessages(bob, session.id)).items;
    await byok.chat.deleteSession(bob, session.id);
    expect(await codeOf(byok.chat.getSession(bob, session.id))).toBe('not_found');
    expect(await byok.store.chatMessages.get(bob, user!.id)).toBeUndefined();
    expect(await byok.store.chatMessages.get(bob, reply!.id)).toBeUndefined();
    expect(await codeOf(byok.chat.deleteSession(bob, session.id))).toBe('not_found');
    const audit = await byok.audit.list(bob, { limit: 100 });
    expect(audit.items.find((r) => r.action === 'chat.session.deleted')).toMatchObject({ target: session.id, metadata: { sessionId: session.id, messages: 2 } });
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { selectTestBackends } from '@byok/testing';
import { codeOf, collect, generations, startChatHarness, type ChatHarness } from './chat-harness';

type GeminiBody = { contents: Array<{ role: string; parts: Array<{ text?: string }> }> };

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('chat branches on %s', (kind) => {
  let h: ChatHarness;
  beforeAll(async () => {
    h = await startChatHarness(kind);
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(() => h.gemini.reset());

  const sentTexts = (): Array<[string, string]> => {
    const body = generations(h.gemini).at(-1)!.body as GeminiBody;
    return body.contents.map((c) => [c.role, c.parts.map((p) => p.text ?? '').join('')]);
  };

  it('edits, regenerates and switches branches; the context is the active path only', async () => {
    const { byok, alice } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const other = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    await collect(byok.chat.send(alice, other.id, { text: 'other session' }));
    await collect(byok.chat.send(alice, s.id, { text: 'one' }));
    await collect(byok.chat.send(alice, s.id, { text: 'two' }));
    let path = (await byok.chat.listMessages(alice, s.id)).items;
    expect(path.map((m) => m.text)).toEqual(['one', 'echo: one', 'two', 'echo: two']);
    expect(path.map((m) => m.seq)).toEqual([1, 2, 3, 4]);

    // Edit "two": a sibling user message with its own reply.
    h.gemini.reset();
    await collect(byok.chat.edit(alice, s.id, path[2]!.id, { text: 'TWO' }));
    expect(sentTexts()).toEqual([
      ['user', 'one'],
      ['model', 'echo: one'],
      ['user', 'TWO'],
    ]);
    path = (await byok.chat.listMessages(alice, s.id)).items;
    expect(path.map((m) => m.text)).toEqual(['one', 'echo: one', 'TWO', 'echo: TWO']);
    expect(path[2]!.siblings).toMatchObject({ count: 2, index: 1 });
    expect(path[0]!.siblings).toMatchObject({ count: 1, index: 0 });
    const originalTwo = path[2]!.siblings.ids[0]!;

    // Regenerate the newest reply: a sibling reply to the same user message.
    h.gemini.setReply(() => 'another answer');
    await collect(byok.chat.regenerate(alice, s.id, path[3]!.id));
    expect(sentTexts()).toEqual([
      ['user', 'one'],
      ['model', 'echo: one'],
      ['user', 'TWO'],
    ]);
    path = (await byok.chat.listMessages(alice, s.id)).items;
    expect(path.map((m) => m.text)).toEqual(['one', 'echo: one', 'TWO', 'another answer']);
    expect(path[3]!.siblings).toMatchObject({ count: 2, index: 1 });
    expect(path[3]!.parentId).toBe(path[2]!.id);

    // Switch back to the first "two": its newest descendant becomes the leaf.
    const switched = await byok.chat.switchBranch(alice, s.id, { messageId: originalTwo });
    path = (await byok.chat.listMessages(alice, s.id)).items;
    expect(path.map((m) => m.text)).toEqual(['one', 'echo: one', 'two', 'echo: two']);
    expect(switched.activeLeafId).toBe(path[3]!.id);

    // A turn now continues that branch, and sends nothing of the others (or of the other session).
    h.gemini.reset();
    h.gemini.setReply(undefined);
    await collect(byok.chat.send(alice, s.id, { text: 'three' }));
    expect(sentTexts()).toEqual([
      ['user', 'one'],
      ['model', 'echo: one'],
      ['user', 'two'],
      ['model', 'echo: two'],
      ['user', 'three'],
    ]);
    // A new root branch.
    await collect(byok.chat.send(alice, s.id, { text: 'fresh start' }, { parentId: null }));
    expect(sentTexts()).toEqual([['user', 'fresh start']]);
    path = (await byok.chat.listMessages(alice, s.id)).items;
    expect(path.map((m) => m.text)).toEqual(['fresh start', 'echo: fresh start']);
    expect(path[0]!.siblings).toMatchObject({ count: 2, index: 1 });

    expect(await codeOf(collect(byok.chat.edit(alice, s.id, path[1]!.id, { text: 'x' })))).toBe('validation_failed');
    expect(await codeOf(collect(byok.chat.regenerate(alice, s.id, path[0]!.id)))).toBe('validation_failed');
    const otherMessage = (await byok.chat.listMessages(alice, other.id)).items[0]!;
    expect(await codeOf(byok.chat.switchBranch(alice, s.id, { messageId: otherMessage.id }))).toBe('not_found');
    expect(await codeOf(collect(byok.chat.send(alice, s.id, { text: 'x' }, { parentId: otherMessage.id })))).toBe('not_found');
    expect(await codeOf(collect(byok.chat.edit(alice, s.id, otherMessage.id, { text: 'x' })))).toBe('not_found');
  });

  it('pages the active path by seq in both directions', async () => {
    const { byok, alice } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    for (let i = 1; i <= 3; i += 1) await collect(byok.chat.send(alice, s.id, { text: `m${i}` }));
    // A side branch that must never show up in the pages.
    const all = (await byok.chat.listMessages(alice, s.id, { limit: 100 })).items;
    await collect(byok.chat.edit(alice, s.id, all[2]!.id, { text: 'side' }));
    await byok.chat.switchBranch(alice, s.id, { messageId: all[2]!.id });
    const texts = ['m1', 'echo: m1', 'm2', 'echo: m2', 'm3', 'echo: m3'];

    const back1 = await byok.chat.listMessages(alice, s.id, { limit: 4 });
    expect(back1.items.map((m) => m.text)).toEqual(texts.slice(2));
    const back2 = await byok.chat.listMessages(alice, s.id, { limit: 4, cursor: back1.nextCursor! });
    expect(back2.items.map((m) => m.text)).toEqual(texts.slice(0, 2));
    expect(back2.nextCursor).toBeNull();

    const fwd1 = await byok.chat.listMessages(alice, s.id, { limit: 4, direction: 'forward' });
    expect(fwd1.items.map((m) => m.text)).toEqual(texts.slice(0, 4));
    const fwd2 = await byok.chat.listMessages(alice, s.id, { limit: 4, cursor: fwd1.nextCursor! });
    expect(fwd2.items.map((m) => m.text)).toEqual(texts.slice(4));
    expect(fwd2.nextCursor).toBeNull();
    const seqs = [...fwd1.items, ...fwd2.items].map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(await codeOf(byok.chat.listMessages(alice, s.id, { cursor: back1.nextCursor!.slice(0, -2) }))).toBe('invalid_cursor');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectTestBackends } from '@byok/testing';
import { codeOf, collect, generations, longText, reading, startChatHarness, type ChatHarness } from './chat-harness';

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('chat isolation on %s', (kind) => {
  let h: ChatHarness;
  beforeAll(async () => {
    h = await startChatHarness(kind);
  });
  afterAll(async () => {
    await h?.close();
  });

  it("another user can neither read, list, stream, resume, stop, append to nor delete a user's session: each is not_found", async () => {
    const { byok, alice, bob } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash', title: 'private' });
    await collect(byok.chat.send(alice, s.id, { text: 'secret plans' }));
    const [userMessage, reply] = (await byok.chat.listMessages(alice, s.id)).items;
    // Bob has a session and a key of his own, so refusals are about the row, not a missing setup.
    const own = await byok.chat.createSession(bob, { provider: 'gemini', model: 'gemini-2.5-flash' });
    await collect(byok.chat.send(bob, own.id, { text: 'mine' }));

    // A reply of Alice's streaming while Bob tries the live operations.
    h.gemini.setReply(() => longText(30));
    h.gemini.configure({ chunks: 30, chunkDelayMs: 30 });
    const live = reading(byok.chat.send(alice, s.id, { text: 'more' }));
    await live.firstDelta;
    const liveReply = (await byok.chat.getSession(alice, s.id)).activeLeafId!;
    const calls = generations(h.gemini).length;

    // Each attempt starts only when it is awaited, so none rejects unobserved.
    const attempts: Record<string, () => Promise<unknown> | AsyncIterable<unknown>> = {
      getSession: () => byok.chat.getSession(bob, s.id),
      listMessages: () => byok.chat.listMessages(bob, s.id),
      getMessage: () => byok.chat.getMessage(bob, s.id, userMessage!.id),
      getMessageViaOwnSession: () => byok.chat.getMessage(bob, own.id, userMessage!.id),
      send: () => byok.chat.send(bob, s.id, { text: 'hi' }),
      sendUnderAlicesMessage: () => byok.chat.send(bob, own.id, { text: 'hi' }, { parentId: reply!.id }),
      edit: () => byok.chat.edit(bob, s.id, userMessage!.id, { text: 'x' }),
      editViaOwnSession: () => byok.chat.edit(bob, own.id, userMessage!.id, { text: 'x' }),
      regenerate: () => byok.chat.regenerate(bob, s.id, reply!.id),
      switchBranch: () => byok.chat.switchBranch(bob, s.id, { messageId: userMessage!.id }),
      switchToAlicesMessage: () => byok.chat.switchBranch(bob, own.id, { messageId: userMessage!.id }),
      resume: () => byok.chat.resume(bob, s.id),
      resumeByEventId: () => byok.chat.resume(bob, own.id, { lastEventId: `${liveReply}:1:1` }),
      stop: () => byok.chat.stop(bob, s.id),
      stopAlicesMessage: () => byok.chat.stop(bob, own.id, { messageId: liveReply }),
      rename: () => byok.chat.renameSession(bob, s.id, { title: 'mine now' }),
      changeModel: () => byok.chat.changeModel(bob, s.id, { model: 'gemini-2.5-pro' }),
      previewContext: () => byok.chat.previewContext(bob, s.id),
      usageTotals: () => byok.chat.usageTotals(bob, { sessionId: s.id }),
      deleteSession: () => byok.chat.deleteSession(bob, s.id),
    };
    const codes: Record<string, string | undefined> = {};
    for (const [name, attempt] of Object.entries(attempts)) codes[name] = await codeOf(attempt());
    expect(codes).toEqual(Object.fromEntries(Object.keys(attempts).map((name) => [name, 'not_found'])));
    expect((await byok.chat.listSessions(bob)).items.map((x) => x.id)).toEqual([own.id]);
    expect((await byok.chat.usageTotals(bob)).replies).toBe(1);

    // Nothing of Alice's changed, and her reply streamed on to the end.
    await live.done;
    expect(generations(h.gemini)).toHaveLength(calls);
    const after = await byok.chat.getSession(alice, s.id);
    expect(after).toMatchObject({ title: 'private', model: 'gemini-2.5-flash', activeLeafId: liveReply });
    const path = (await byok.chat.listMessages(alice, s.id)).items;
    expect(path.map((m) => m.text)).toEqual(['secret plans', 'echo: secret plans', 'more', longText(30)]);
    expect(path.at(-1)!.status).toBe('complete');
    expect((await byok.chat.listMessages(bob, own.id)).items.map((m) => m.text)).toEqual(['mine', 'echo: mine']);
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createByok } from '@byok/core';
import { codeOf, collect, GEMINI_KEY_B, generations, longText, reading, startChatHarness, type ChatHarness } from './chat-harness';

describe('chat rate limits', () => {
  let h: ChatHarness;
  beforeAll(async () => {
    h = await startChatHarness('memory', {
      rateLimits: { chat_send: { perUser: 4, perIp: 5, windowMs: 60_000 }, chatStream: { perUser: 1, leaseMs: 600 } },
    });
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(() => h.gemini.reset());

  it('counts sends per user and per IP, refusing before anything is stored or sent', async () => {
    const { byok, alice, bob } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    for (let i = 0; i < 4; i += 1) await collect(byok.chat.send(alice, s.id, { text: `m${i}` }, { ip: '203.0.113.7' }));
    expect(await codeOf(byok.chat.send(alice, s.id, { text: 'over' }, { ip: '198.51.100.1' }))).toBe('rate_limited');
    expect((await byok.chat.listMessages(alice, s.id)).items).toHaveLength(8);
    expect(generations(h.gemini)).toHaveLength(4);
    // Bob is within his own limit but shares the IP, which has one send left.
    const b = await byok.chat.createSession(bob, { provider: 'gemini', model: 'gemini-2.5-flash' });
    await collect(byok.chat.send(bob, b.id, { text: 'one' }, { ip: '203.0.113.7' }));
    expect(await codeOf(byok.chat.send(bob, b.id, { text: 'two' }, { ip: '203.0.113.7' }))).toBe('rate_limited');
    await collect(byok.chat.send(bob, b.id, { text: 'two' }, { ip: '198.51.100.2' }));
  });

  it('bounds live streams per user, with a slot a crashed stream cannot hold past its lease', async () => {
    const { byok } = h;
    const bob = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'carol' })).user.id;
    await byok.keyVault.setKey(bob, 'gemini', GEMINI_KEY_B);
    const s1 = await byok.chat.createSession(bob, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const s2 = await byok.chat.createSession(bob, { provider: 'gemini', model: 'gemini-2.5-flash' });
    h.gemini.setReply(() => longText(10));
    h.gemini.configure({ chunks: 10, chunkDelayMs: 40 });
    const live = reading(byok.chat.send(bob, s1.id, { text: 'long' }, { ip: '192.0.2.1' }));
    await live.firstDelta;
    expect(await codeOf(byok.chat.send(bob, s2.id, { text: 'parallel' }, { ip: '192.0.2.2' }))).toBe('rate_limited');
    await live.done;
    // A slot taken by an instance that then died: free again once its lease lapses.
    await byok.rateLimiter.acquireStream(bob);
    expect(await codeOf(byok.chat.send(bob, s2.id, { text: 'blocked' }, { ip: '192.0.2.3' }))).toBe('rate_limited');
    await new Promise((resolve) => setTimeout(resolve, 700));
    h.gemini.configure({ chunkDelayMs: 0 });
    await collect(byok.chat.send(bob, s2.id, { text: 'free' }, { ip: '192.0.2.4' }));
    expect((await byok.chat.listMessages(bob, s2.id)).items.map((m) => m.text)).toEqual(['free', longText(10)]);
  });

  it('refuses bad chat options at start', async () => {
    for (const chat of [{ leaseMs: 10 }, { maxSteps: 0 }, { context: { maxMessages: 1.5 } }, { context: { tokenBudget: -1 } }]) {
      expect(await codeOf(createByok({ database: { memory: true }, chat }))).toBe('config_invalid');
    }
  });
});

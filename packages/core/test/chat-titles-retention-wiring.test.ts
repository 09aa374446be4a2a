// chat.titles and chat.retention as a host sets them: through createByok and byok.chat.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectTestBackends } from '@byok/testing';
import { codeOf, collect, startChatHarness, type ChatHarness } from './chat-harness';

const TITLE_PROMPT = 'You name chat conversations';

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('chat titles and retention through createByok on %s', (kind) => {
  let h: ChatHarness;
  beforeAll(async () => {
    h = await startChatHarness(kind, { chat: { titles: { maxLength: 40 }, retention: { maxAgeMs: 3_600_000 } } });
    h.gemini.setReply((turn) => (turn.system.includes(TITLE_PROMPT) ? 'Title: "Tides and the Moon."' : `echo: ${turn.messages.at(-1)?.text ?? ''}`));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('names a new session from its first exchange after the reply, and only then', async () => {
    const { byok, alice } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const events = await collect(byok.chat.send(alice, s.id, { text: 'why are there tides?' }));
    expect(events.at(-1)!.chunk.type).toBe('finish');
    await byok.chat.titlesIdle();
    expect((await byok.chat.getSession(alice, s.id)).title).toBe('Tides and the Moon');
    const titleCalls = () => h.gemini.requests.filter((r) => JSON.stringify(r.body ?? '').includes(TITLE_PROMPT)).length;
    const asked = titleCalls();
    expect(asked).toBe(1);
    // A second turn, and a session the user named, are left as they are.
    await collect(byok.chat.send(alice, s.id, { text: 'and the sun?' }));
    const named = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash', title: 'mine' });
    await collect(byok.chat.send(alice, named.id, { text: 'hello' }));
    await byok.chat.titlesIdle();
    expect(titleCalls()).toBe(asked);
    expect((await byok.chat.getSession(alice, named.id)).title).toBe('mine');
  });

  it('purges the sessions past chat.retention.maxAgeMs through byok.chat.purgeExpired', async () => {
    const { byok, alice, bob } = h;
    const kept = await byok.chat.createSession(bob, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const report = await byok.chat.purgeExpired({ now: Date.now() + 2 * 3_600_000 });
    expect(report.maxAgeMs).toBe(3_600_000);
    expect(report.sessions).toBeGreaterThanOrEqual(3);
    expect(report.complete).toBe(true);
    expect((await byok.chat.listSessions(alice)).items).toEqual([]);
    expect(await codeOf(byok.chat.getSession(bob, kept.id))).toBe('not_found');
    // Within the maximum age nothing goes.
    const fresh = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    expect((await byok.chat.purgeExpired()).sessions).toBe(0);
    expect((await byok.chat.getSession(alice, fresh.id)).id).toBe(fresh.id);
  });
});

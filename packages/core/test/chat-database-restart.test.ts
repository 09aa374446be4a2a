// A reply that finishes streaming while the database is away (a restart, a failover, a
// network cut) is stored whole once the database answers again, within a lease: the
// reader waits for its end instead of getting an error, and nothing it saw is lost. Every
// database connection goes through a TCP proxy the test cuts and restores.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { selectTestBackends } from '@byok/testing';
import { chunks, longText, reading, startChatHarness, streamedText, until, type ChatHarness } from './chat-harness';

const FULL = longText(30);
const LEASE_MS = 3_000;

describe.each(selectTestBackends(['postgres', 'mysql'] as const))('a reply across a database restart on %s', (kind) => {
  let h: ChatHarness;
  beforeAll(async () => {
    h = await startChatHarness(kind, { chat: { leaseMs: LEASE_MS } }, { proxy: true });
  });
  afterAll(async () => {
    await h?.proxy?.restore();
    await h?.close();
  });
  beforeEach(async () => {
    await h.proxy!.restore();
    h.gemini.reset();
    h.gemini.setReply(() => FULL);
    h.gemini.configure({ chunks: 15, chunkDelayMs: 40 });
  });

  const newSession = () => h.byok.chat.createSession(h.alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('is stored complete with every word the reader saw, its usage counted once, when the database returns before the lease ends', async () => {
    const s = await newSession();
    const r = reading(h.byok.chat.send(h.alice, s.id, { text: 'through a restart' }));
    await r.firstDelta;
    await h.proxy!.cut();
    // The provider is not behind the proxy: the whole reply streams while the database is away.
    await until(() => streamedText(r.seen) === FULL, 5_000);
    await sleep(500);
    expect(r.seen.at(-1)!.chunk.type).toBe('text-delta'); // the end waits for the database
    await h.proxy!.restore();
    const seen = await r.done;
    expect(chunks(seen).at(-1)!.type).toBe('finish');
    expect(streamedText(seen)).toBe(FULL);
    const messages = (await h.byok.chat.listMessages(h.alice, s.id)).items;
    expect(messages.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
    expect(messages[1]!.text).toBe(FULL);
    const usage = messages[1]!.usage!;
    expect(usage.outputTokens).toBeGreaterThan(0);
    expect((await h.byok.chat.getSession(h.alice, s.id)).usage).toMatchObject({ inputTokens: usage.inputTokens, outputTokens: usage.outputTokens });
  });

  it('gives up after a lease when the database stays away: the reader gets database_unavailable, and recovery settles the row once it returns', async () => {
    const s = await newSession();
    const r = reading(h.byok.chat.send(h.alice, s.id, { text: 'through a long outage' }));
    await r.firstDelta;
    await h.proxy!.cut();
    const started = Date.now();
    const seen = await r.done;
    const waited = Date.now() - started;
    const end = chunks(seen).at(-1) as { type: string; errorText?: string };
    expect(end.type).toBe('error');
    expect(JSON.stringify(chunks(seen))).toContain('database_unavailable');
    // It kept trying for about a lease after the reply ended, then gave up.
    expect(waited).toBeGreaterThan(LEASE_MS - 300);
    expect(waited).toBeLessThan(LEASE_MS + 4_000);
    await h.proxy!.restore();
    await until(async () => (await h.byok.chat.recoverExpired()) >= 0 && (await h.byok.chat.listMessages(h.alice, s.id)).items.at(-1)!.status !== 'streaming', 15_000);
    const reply = (await h.byok.chat.listMessages(h.alice, s.id)).items.at(-1)!;
    expect(reply).toMatchObject({ role: 'assistant', status: 'incomplete', errorCode: 'lease_expired' });
  });

  it('close() while a finished reply waits for the database gives up at once instead of waiting out the lease', async () => {
    const other = await h.another();
    const s = await other.chat.createSession(h.alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const r = reading(other.chat.send(h.alice, s.id, { text: 'closing during an outage' }));
    await r.firstDelta;
    await h.proxy!.cut();
    await until(() => streamedText(r.seen) === FULL, 5_000);
    await sleep(300);
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(LEASE_MS - 1_000);
    expect(chunks(await r.done).at(-1)!.type).toBe('error');
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gemini } from '@byok/gemini';
import { selectTestBackends } from '@byok/testing';
import type { ChatEvent } from '../src/chat/chat-events';
import { MemoryChatRunHub } from '../src/chat/chat-run-hub-memory';
import { ChatService } from '../src/chat/chat-service';
import { formatRunEventId } from '../src/chat/run-event-id';
import { chunks, codeOf, collect, longText, reading, startChatHarness, streamedText, until, type ChatHarness } from './chat-harness';

const event = (runId: string, position: number): ChatEvent => ({ runId, position, chunk: { type: 'text-delta', id: 't', delta: String(position) } });

describe('the in-process run hub', () => {
  it('gives the chunks after a position, then the live tail until the run ends', async () => {
    const hub = new MemoryChatRunHub();
    for (let i = 1; i <= 3; i += 1) await hub.publish(event('r', i));
    const sub = (await hub.subscribe('r', 1))!;
    const got: number[] = [];
    const reading = (async () => {
      for await (const e of sub) got.push(e.position);
    })();
    await hub.publish(event('r', 4));
    await hub.end('r');
    await reading;
    expect(got).toEqual([2, 3, 4]);
    expect(await hub.subscribe('unknown', 0)).toBeUndefined();
    await hub.close();
  });

  it('bounds each log (a resume from before it is unknown), expires ended runs, and ends readers on abort', async () => {
    const hub = new MemoryChatRunHub({ maxEventsPerRun: 3, ttlMs: 30 });
    for (let i = 1; i <= 5; i += 1) await hub.publish(event('r', i));
    expect(await hub.subscribe('r', 0)).toBeUndefined();
    expect((await collectSome((await hub.subscribe('r', 2))!, 3)).map((e) => e.position)).toEqual([3, 4, 5]);
    const controller = new AbortController();
    const sub = (await hub.subscribe('r', 5, controller.signal))!;
    const waiting = collect(sub);
    controller.abort();
    expect(await waiting).toEqual([]);
    await hub.end('r');
    await until(async () => (await hub.subscribe('r', 4)) === undefined, 2_000);
    await hub.close();
  });

  it('tells the owner of a run about a stop request', async () => {
    const hub = new MemoryChatRunHub();
    expect(await hub.requestStop('r')).toBe(false);
    let heard = 0;
    const off = hub.onStop('r', () => (heard += 1));
    expect(await hub.requestStop('r')).toBe(true);
    off();
    expect(await hub.requestStop('r')).toBe(false);
    expect(heard).toBe(1);
  });
});

async function collectSome(events: AsyncIterable<ChatEvent>, n: number): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const e of events) {
    out.push(e);
    if (out.length === n) break;
  }
  return out;
}

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('resume on %s', (kind) => {
  let h: ChatHarness;
  let shortHub: ChatService;
  const TEXT = longText(24);
  beforeAll(async () => {
    h = await startChatHarness(kind);
    shortHub = new ChatService({
      store: h.byok.store,
      keyVault: h.byok.keyVault,
      providers: [gemini({ baseUrl: h.gemini.url })],
      audit: h.byok.audit,
      hub: new MemoryChatRunHub({ ttlMs: 20 }),
    });
  });
  afterAll(async () => {
    await shortHub?.close();
    await h?.close();
  });
  beforeEach(() => {
    h.gemini.reset();
    h.gemini.setReply(() => TEXT);
    h.gemini.configure({ chunks: 24, chunkDelayMs: 25 });
  });

  it('after a dropped connection, gets exactly the events it missed and then the live tail', async () => {
    const { byok, alice } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const whole = reading(byok.chat.send(alice, s.id, { text: 'go' }));
    // A second reader that drops after a few events…
    await whole.firstDelta;
    const dropped = (await byok.chat.resume(alice, s.id))!;
    const firstPart = await collectSome(dropped, 5);
    // …and reconnects with the id of the last event it got.
    const rest = await collect((await byok.chat.resume(alice, s.id, { lastEventId: formatRunEventId(firstPart.at(-1)!) }))!);
    const uninterrupted = await whole.done;
    expect(JSON.stringify([...firstPart, ...rest])).toBe(JSON.stringify(uninterrupted));
    // After the end, while the hub still has the run: the rest, from any position.
    const late = await collect((await byok.chat.resume(alice, s.id, { lastEventId: formatRunEventId(uninterrupted[9]!) }))!);
    expect(JSON.stringify(late)).toBe(JSON.stringify(uninterrupted.slice(10)));
    expect(await byok.chat.resume(alice, s.id)).toBeNull();
  });

  it('when the hub no longer has the run, answers with the rest of the stored reply: no gap, no duplicate, the same bytes every time', async () => {
    const { alice } = h;
    h.gemini.configure({ chunkDelayMs: 0 });
    const s = await shortHub.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const live = await collect(shortHub.send(alice, s.id, { text: 'go' }));
    await new Promise((resolve) => setTimeout(resolve, 80));
    // Readers that dropped after every event of the live run: the stored reply's deltas are
    // cut differently from the live ones, and each still gets exactly what it lacked.
    const firstDelta = live.findIndex((e) => e.chunk.type === 'text-delta');
    expect(live.filter((e) => e.chunk.type === 'text-delta').length).toBeGreaterThan(3);
    for (let seen = 1; seen <= live.length; seen += 1) {
      const rest = await collect((await shortHub.resume(alice, s.id, { lastEventId: formatRunEventId(live[seen - 1]!) }))!);
      expect(streamedText([...live.slice(0, seen), ...rest]), `after ${seen} events`).toBe(TEXT);
      expect(chunks([...live.slice(0, seen), ...rest]).filter((c) => c.type !== 'text-delta').map((c) => c.type), `after ${seen} events`).toEqual(
        chunks(live).filter((c) => c.type !== 'text-delta').map((c) => c.type),
      );
      if (seen < live.length) expect(rest.length, `after ${seen} events`).toBeGreaterThan(0);
    }
    const mid = formatRunEventId(live[firstDelta + 1]!);
    const once = await collect((await shortHub.resume(alice, s.id, { lastEventId: mid }))!);
    const twice = await collect((await shortHub.resume(alice, s.id, { lastEventId: mid }))!);
    expect(JSON.stringify(twice)).toBe(JSON.stringify(once));
    // A reader resuming from a stored answer resumes again from its ids just as well.
    const again = await collect((await shortHub.resume(alice, s.id, { lastEventId: formatRunEventId(once[0]!) }))!);
    expect(JSON.stringify(again)).toBe(JSON.stringify(once.slice(1)));
    expect(chunks(once).slice(-2)).toEqual(chunks(live).slice(-2));
    expect(await collect((await shortHub.resume(alice, s.id, { lastEventId: formatRunEventId(live.at(-1)!) }))!)).toEqual([]);
    // A reader past the stored reply (its producer streamed more, then died before saving)
    // still gets how the reply ended, with ids past its own.
    const beyond = live.at(-1)!.offset! + 50;
    const past = await collect((await shortHub.resume(alice, s.id, { lastEventId: `${live[0]!.runId}:999:${beyond}` }))!);
    expect(chunks(past).map((c) => c.type)).toEqual(['text-end', 'finish-step', 'data-byok-usage', 'finish']);
    expect(past.map((e) => [e.offset, e.closing])).toEqual([1, 2, 3, 4].map((k) => [beyond, k]));
    // …and resuming from one of those gets the ones after it, once.
    const rest = await collect((await shortHub.resume(alice, s.id, { lastEventId: formatRunEventId(past[1]!) }))!);
    expect(chunks(rest).map((c) => c.type)).toEqual(['data-byok-usage', 'finish']);
    // A reader that got the content and some of the closing chunks gets the others.
    const lastContent = live.findLastIndex((e) => e.chunk.type === 'text-delta');
    const afterTextEnd = await collect((await shortHub.resume(alice, s.id, { lastEventId: formatRunEventId(live[lastContent + 1]!) }))!);
    expect(chunks(afterTextEnd).map((c) => c.type)).toEqual(['finish-step', 'data-byok-usage', 'finish']);
    expect(await codeOf(shortHub.resume(alice, s.id, { lastEventId: 'garbage' }))).toBe('validation_failed');
    expect(await codeOf(shortHub.resume(alice, s.id, { lastEventId: `${live[0]!.runId}:4` }))).toBe('validation_failed');
    expect(await codeOf(shortHub.resume(alice, s.id, { lastEventId: `${s.id}:1:1` }))).toBe('not_found');
  });
});

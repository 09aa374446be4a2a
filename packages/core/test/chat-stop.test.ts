import { z } from 'zod';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { selectTestBackends } from '@byok/testing';
import type { ChatTool } from '../src/chat/chat-tools';
import { chunks, codeOf, collect, generations, longText, reading, startChatHarness, streamedText, until, type ChatHarness } from './chat-harness';

const FULL = longText(40);

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('stop, disconnect and failures on %s', (kind) => {
  let h: ChatHarness;
  beforeAll(async () => {
    h = await startChatHarness(kind, { chat: { leaseMs: 2_000 } });
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(() => {
    h.gemini.reset();
    h.gemini.setReply(() => FULL);
    h.gemini.configure({ chunks: 20, chunkDelayMs: 40 });
  });

  const newSession = () => h.byok.chat.createSession(h.alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
  const replyOf = async (sessionId: string) => (await h.byok.chat.listMessages(h.alice, sessionId)).items.at(-1)!;

  it('finishes and stores the reply when the reader leaves (by breaking or by its signal)', async () => {
    const s = await newSession();
    const left = reading(h.byok.chat.send(h.alice, s.id, { text: 'go' }), { stopAfterFirstDelta: true });
    const seen = await left.done;
    expect(chunks(seen).filter((c) => c.type === 'text-delta')).toHaveLength(1);
    await until(async () => (await replyOf(s.id)).status !== 'streaming');
    expect(await replyOf(s.id)).toMatchObject({ status: 'complete', text: FULL });

    const s2 = await newSession();
    const controller = new AbortController();
    const aborted = reading(h.byok.chat.send(h.alice, s2.id, { text: 'go' }, { signal: controller.signal }));
    await aborted.firstDelta;
    controller.abort();
    const partial = await aborted.done;
    expect(partial.at(-1)!.chunk.type).not.toBe('finish');
    await until(async () => (await replyOf(s2.id)).status !== 'streaming');
    expect(await replyOf(s2.id)).toMatchObject({ status: 'complete', text: FULL });
  });

  it('with abortOnDisconnect, a reader leaving stops the reply: stored incomplete (aborted) with the text so far', async () => {
    const s = await newSession();
    await reading(h.byok.chat.send(h.alice, s.id, { text: 'go' }, { abortOnDisconnect: true }), { stopAfterFirstDelta: true }).done;
    await until(async () => (await replyOf(s.id)).status !== 'streaming');
    const reply = await replyOf(s.id);
    expect(reply).toMatchObject({ status: 'incomplete', errorCode: 'aborted' });
    expect(FULL.startsWith(reply.text)).toBe(true);
    expect(reply.text.length).toBeLessThan(FULL.length);
    await until(() => generations(h.gemini).at(-1)!.closedByClient);
  });

  it('stop ends the live reply: incomplete (cancelled) with the text so far, the reader gets abort, the provider call is closed', async () => {
    const s = await newSession();
    const r = reading(h.byok.chat.send(h.alice, s.id, { text: 'go' }));
    await r.firstDelta;
    const result = await h.byok.chat.stop(h.alice, s.id);
    expect(result.stopped).toBe(true);
    expect(result.message).toMatchObject({ status: 'incomplete', errorCode: 'cancelled', role: 'assistant' });
    const seen = await r.done;
    expect(seen.at(-1)!.chunk).toEqual({ type: 'abort' });
    expect(result.message!.text).toBe(streamedText(seen));
    expect(result.message!.text.length).toBeGreaterThan(0);
    expect(result.message!.text.length).toBeLessThan(FULL.length);
    await until(() => generations(h.gemini).at(-1)!.closedByClient);
    // Nothing live any more; the session takes the next turn.
    expect((await h.byok.chat.stop(h.alice, s.id)).stopped).toBe(false);
    h.gemini.configure({ chunkDelayMs: 0 });
    await collect(h.byok.chat.send(h.alice, s.id, { text: 'again' }));
    expect((await replyOf(s.id)).status).toBe('complete');
  });

  it('stop during a tool call gives the call a cancelled result, so the next turn is valid', async () => {
    const s = await newSession();
    let started: () => void = () => undefined;
    const toolStarted = new Promise<void>((resolve) => (started = resolve));
    let sawAbort = false;
    const slow: ChatTool = {
      name: 'slow_lookup',
      inputSchema: z.object({ q: z.string() }),
      execute: (_input, { signal }) =>
        new Promise((_resolve, reject) => {
          started();
          signal.addEventListener('abort', () => {
            sawAbort = true;
            reject(new Error('aborted'));
          });
        }),
    };
    h.gemini.configure({ chunkDelayMs: 0 });
    h.gemini.setReply((turn) => (turn.messages.at(-1)!.text.startsWith('[result') ? 'done' : { toolCalls: [{ name: 'slow_lookup', args: { q: 'x' } }] }));
    const r = reading(h.byok.chat.send(h.alice, s.id, { text: 'look it up' }, { tools: [slow] }));
    await toolStarted;
    const result = await h.byok.chat.stop(h.alice, s.id);
    expect(sawAbort).toBe(true);
    expect(result.message!.parts).toEqual([
      { type: 'tool-call', toolCallId: expect.any(String), toolName: 'slow_lookup', args: { q: 'x' } },
      { type: 'tool-result', toolCallId: expect.any(String), toolName: 'slow_lookup', result: { error: 'The tool call was cancelled', reason: 'cancelled' }, isError: true },
    ]);
    const seen = chunks(await r.done);
    expect(seen.map((c) => c.type)).toContain('tool-output-error');
    h.gemini.setReply(() => 'fine');
    await collect(h.byok.chat.send(h.alice, s.id, { text: 'next' }, { tools: [slow] }));
    const body = generations(h.gemini).at(-1)!.body as { contents: Array<{ role: string; parts: Array<Record<string, unknown>> }> };
    expect(body.contents.map((c) => Object.keys(c.parts[0]!)[0])).toEqual(['text', 'functionCall', 'functionResponse', 'text']);
  });

  it('a provider failure mid-stream ends the reply as error with its own code, keeping the text so far', async () => {
    h.gemini.configure({ chunkDelayMs: 0 });
    const cases = [
      { fault: { kind: 'stream-error', afterChunks: 3, status: 429 } as const, code: 'provider_rate_limited' },
      { fault: { kind: 'stream-error', afterChunks: 3, status: 503 } as const, code: 'provider_unavailable' },
      { fault: { kind: 'reset', afterChunks: 3 } as const, code: 'provider_network_error', times: 2 },
      { fault: { kind: 'truncate', afterChunks: 3 } as const, code: 'provider_network_error' },
      { fault: { kind: 'safety', stage: 'response' } as const, code: 'provider_safety_block' },
      { fault: { kind: 'quota-exhausted', scope: 'billing' } as const, code: 'provider_quota_exhausted' },
    ];
    for (const { fault, code, times } of cases as Array<(typeof cases)[number] & { times?: number }>) {
      const s = await newSession();
      h.gemini.injectFault(fault, { route: 'stream', times: times ?? 1 });
      const events = await collect(h.byok.chat.send(h.alice, s.id, { text: 'go' }));
      const reply = await replyOf(s.id);
      expect([fault.kind, reply.status, reply.errorCode]).toEqual([fault.kind, 'error', code]);
      expect(reply.text).toBe(streamedText(events));
      if (fault.kind === 'stream-error' || fault.kind === 'truncate') expect(reply.text.length).toBeGreaterThan(0);
      const last = chunks(events).slice(-2);
      expect(last[0]).toMatchObject({ type: 'data-byok-usage', data: { status: 'error', errorCode: code } });
      expect(last[1]).toMatchObject({ type: 'error', errorText: expect.any(String) });
    }
  });

  it('a key the provider now rejects ends the reply as key_invalid, and the key never reaches the stream or the row', async () => {
    h.gemini.configure({ chunkDelayMs: 0 });
    const s = await newSession();
    const index = h.gemini.keys.indexOf('AIzaSyCHAT-alice-000000000000000000000001');
    h.gemini.keys.splice(index, 1);
    try {
      h.gemini.configure({ echoKeyInErrors: true });
      const events = await collect(h.byok.chat.send(h.alice, s.id, { text: 'go' }));
      const reply = await replyOf(s.id);
      expect(reply).toMatchObject({ status: 'error', errorCode: 'key_invalid' });
      expect(JSON.stringify(events)).not.toContain('CHAT-alice');
      expect(JSON.stringify(reply)).not.toContain('CHAT-alice');
    } finally {
      h.gemini.keys.splice(index, 0, 'AIzaSyCHAT-alice-000000000000000000000001');
    }
    expect(await codeOf(h.byok.chat.stop(h.bob, s.id))).toBe('not_found');
  });
});

import { z } from 'zod';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { selectTestBackends } from '@byok/testing';
import type { ChatTool } from '../src/chat/chat-tools';
import { chunks, codeOf, collect, generations, startChatHarness, type ChatHarness } from './chat-harness';

type GeminiBody = { contents: Array<{ role: string; parts: Array<Record<string, unknown>> }>; tools?: Array<{ functionDeclarations: Array<Record<string, unknown>> }> };

const weather: ChatTool<z.ZodObject<{ city: z.ZodString }>> = {
  name: 'get_weather',
  description: 'The weather in a city now',
  inputSchema: z.object({ city: z.string().min(1) }),
  execute: async ({ city }) => ({ city, celsius: city === 'Paris' ? 21 : 5 }),
};

/** Calls get_weather once per user question, then answers with what it got. */
function weatherScript(turn: { messages: Array<{ role: string; text: string }> }) {
  const last = turn.messages.at(-1)!;
  if (last.text.startsWith('[result')) return `It is ${/"celsius":(\d+)/.exec(last.text)?.[1]} degrees`;
  const city = /in (\w+)/.exec(last.text)?.[1] ?? 'Paris';
  return { toolCalls: [{ name: 'get_weather', args: { city } }] };
}

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('chat tools on %s', (kind) => {
  let h: ChatHarness;
  beforeAll(async () => {
    h = await startChatHarness(kind, { chat: { leaseMs: 1_000, maxSteps: 3 } });
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(() => {
    h.gemini.reset();
    h.gemini.setReply(weatherScript);
  });

  it('runs host tools with Gemini 3 thought signatures kept on every step and across turns', async () => {
    const { byok, alice } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-3-pro-preview' });
    const first = await collect(byok.chat.send(alice, s.id, { text: 'weather in Paris?' }, { tools: [weather] }));
    const types = chunks(first).map((c) => c.type);
    expect(types.filter((t) => t === 'start-step')).toHaveLength(2);
    expect(chunks(first).find((c) => c.type === 'tool-input-available')).toMatchObject({ toolName: 'get_weather', input: { city: 'Paris' } });
    expect(chunks(first).find((c) => c.type === 'tool-output-available')).toMatchObject({ output: { city: 'Paris', celsius: 21 } });
    let reply = (await byok.chat.listMessages(alice, s.id)).items.at(-1)!;
    expect(reply).toMatchObject({ status: 'complete', text: 'It is 21 degrees' });
    expect(reply.usage).toMatchObject({ steps: 2, finishReason: 'stop' });
    expect(reply.parts.map((p) => p.type)).toEqual(['tool-call', 'tool-result', 'text']);
    const call = reply.parts[0] as { providerMetadata?: { gemini?: { thoughtSignature?: string } } };
    expect(call.providerMetadata?.gemini?.thoughtSignature).toEqual(expect.any(String));
    // The declared tool went out as JSON Schema.
    const firstBody = generations(h.gemini)[0]!.body as GeminiBody;
    expect(firstBody.tools?.[0]?.functionDeclarations[0]).toMatchObject({
      name: 'get_weather',
      description: 'The weather in a city now',
      parametersJsonSchema: { type: 'object', properties: { city: { type: 'string', minLength: 1 } }, required: ['city'] },
    });

    // The next turn sends the stored steps back with their signatures (a signed model refuses otherwise).
    const second = await collect(byok.chat.send(alice, s.id, { text: 'and in Oslo?' }, { tools: [weather] }));
    expect(chunks(second).at(-1)).toMatchObject({ type: 'finish' });
    reply = (await byok.chat.listMessages(alice, s.id)).items.at(-1)!;
    expect(reply.text).toBe('It is 5 degrees');
    const last = generations(h.gemini).at(-1)!.body as GeminiBody;
    const calls = last.contents.flatMap((c) => c.parts).filter((p) => p.functionCall);
    expect(calls).toHaveLength(2);
    for (const part of calls) expect(part.thoughtSignature).toEqual(expect.any(String));
    expect(last.contents.map((c) => c.role)).toEqual(['user', 'model', 'user', 'model', 'user', 'model', 'user']);
  });

  it('bounds the loop, and turns bad input, unknown tools and throwing tools into results the model reads', async () => {
    const { byok, alice } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    let step = 0;
    h.gemini.setReply(() => {
      step += 1;
      if (step === 1) return { toolCalls: [{ name: 'get_weather', args: { town: 'Paris' } }, { name: 'no_such_tool', args: {} }] };
      return { toolCalls: [{ name: 'explode', args: {} }] };
    });
    const explode: ChatTool = {
      name: 'explode',
      inputSchema: z.object({}),
      execute: () => {
        throw new Error('boom with sk-live-SECRETSECRETSECRET0000');
      },
    };
    await collect(byok.chat.send(alice, s.id, { text: 'go' }, { tools: [weather, explode] }));
    expect(step).toBe(3);
    const reply = (await byok.chat.listMessages(alice, s.id)).items.at(-1)!;
    expect(reply.usage).toMatchObject({ steps: 3, finishReason: 'tool-calls' });
    const results = reply.parts.filter((p) => p.type === 'tool-result');
    expect(results).toHaveLength(4);
    expect(results.every((r) => r.isError === true)).toBe(true);
    expect(JSON.stringify(results[0]!.result)).toContain('Invalid input (city');
    expect(results[1]!.result).toEqual({ error: 'Unknown tool: no_such_tool' });
    expect(JSON.stringify(results)).toContain('boom with');
    expect(JSON.stringify(results)).not.toContain('SECRETSECRETSECRET');
    // Every call has its result.
    const calls = reply.parts.filter((p) => p.type === 'tool-call').map((p) => (p as { toolCallId: string }).toolCallId);
    expect(results.map((r) => (r as { toolCallId: string }).toolCallId).sort()).toEqual([...calls].sort());

    const notObject: ChatTool = { name: 'scalar', inputSchema: z.string(), execute: () => 1 };
    expect(await codeOf(byok.chat.send(alice, s.id, { text: 'x' }, { tools: [notObject] }))).toBe('validation_failed');
    expect(await codeOf(byok.chat.send(alice, s.id, { text: 'x' }, { tools: [weather, weather] }))).toBe('validation_failed');
    expect(await codeOf(byok.chat.send(alice, s.id, { text: 'x' }, { tools: [{ ...weather, name: 'has space' }] }))).toBe('validation_failed');
  });

  it('keeps renewing the lease while a tool runs longer than it, so recovery leaves the reply alone', async () => {
    const { byok, alice } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const slow: ChatTool<typeof weather.inputSchema> = { ...weather, execute: async ({ city }) => new Promise((resolve) => setTimeout(() => resolve({ city, celsius: 21 }), 2_500)) };
    const running = collect(byok.chat.send(alice, s.id, { text: 'weather in Paris?' }, { tools: [slow] }));
    let done = false;
    void running.then(() => (done = true));
    let recovered = 0;
    while (!done) {
      recovered += await byok.chat.recoverExpired();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(recovered).toBe(0);
    expect((await byok.chat.listMessages(alice, s.id)).items.at(-1)).toMatchObject({ status: 'complete', text: 'It is 21 degrees' });
  });
});

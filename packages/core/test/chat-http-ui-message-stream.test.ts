import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ai5 from 'ai5';
import * as ai6 from 'ai6';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createByok, type Byok } from '../src/byok';
import type { ChatEvent, UiMessageChunk } from '../src/chat/chat-events';
import { UI_MESSAGE_STREAM_HEADERS, uiMessageSseEvents, uiMessageStreamResponse } from '../src/chat/ui-message-stream';
import { ByokError } from '../src/errors';
import { defineOperation } from '../src/http/operation';
import { nodeListener } from '../src/http/node-http';

/** The client half of `ai` both majors share (their exact types differ, so the loop takes this slice). */
interface AiClient {
  DefaultChatTransport: new (options: Record<string, unknown>) => {
    sendMessages(options: Record<string, unknown>): Promise<ReadableStream<unknown>>;
  };
  readUIMessageStream(options: { stream: ReadableStream<unknown>; terminateOnError?: boolean; onError?: (error: unknown) => void }): AsyncIterable<any>;
}

const RUN = '0190f0c4-aaaa-7bbb-8ccc-123456789abc';

/** Every v5 chunk type a turn can carry, in the order a turn with reasoning and a tool sends them. */
const CHUNKS: UiMessageChunk[] = [
  { type: 'start', messageId: 'assistant-1', messageMetadata: { runId: RUN } },
  { type: 'data-byok-turn', data: { userMessage: { id: 'user-1', seq: 1 }, assistantMessageId: 'assistant-1', runId: RUN, seq: 2 } },
  { type: 'start-step' },
  { type: 'reasoning-start', id: 'r0', providerMetadata: { gemini: { thoughtSignature: 'c2ln' } } },
  { type: 'reasoning-delta', id: 'r0', delta: 'Thinking “about” it… ' },
  { type: 'reasoning-end', id: 'r0' },
  { type: 'tool-input-start', toolCallId: 'call-1', toolName: 'weather' },
  { type: 'tool-input-delta', toolCallId: 'call-1', inputTextDelta: '{"city":' },
  { type: 'tool-input-delta', toolCallId: 'call-1', inputTextDelta: '"Lisbon"}' },
  { type: 'tool-input-available', toolCallId: 'call-1', toolName: 'weather', input: { city: 'Lisbon' } },
  { type: 'tool-output-available', toolCallId: 'call-1', output: { celsius: 21 } },
  { type: 'finish-step' },
  { type: 'start-step' },
  { type: 'text-start', id: 't0' },
  { type: 'text-delta', id: 't0', delta: 'It is 21 °C in Lisbon\n\n' },
  { type: 'text-delta', id: 't0', delta: 'data: not an event 🌤' },
  { type: 'text-end', id: 't0' },
  { type: 'finish-step' },
  { type: 'message-metadata', messageMetadata: { runId: RUN, seq: 2 } },
  { type: 'data-byok-usage', data: { inputTokens: 12, outputTokens: 9 } },
  { type: 'finish', messageMetadata: { runId: RUN, seq: 2, usage: { inputTokens: 12, outputTokens: 9 } } },
];

async function* events(chunks: UiMessageChunk[], fail?: unknown): AsyncGenerator<ChatEvent> {
  let position = 0;
  for (const chunk of chunks) yield { runId: RUN, position: ++position, chunk };
  if (fail) throw fail;
}

function expectedSse(chunks: UiMessageChunk[]): string {
  return chunks.map((chunk, i) => `id: ${RUN}:${i + 1}:${i + 1}\ndata: ${JSON.stringify(chunk)}\n\n`).join('') + 'data: [DONE]\n\n';
}

describe('the UI message stream on the wire (real HTTP, parsed by ai 5 and ai 6)', () => {
  let byok: Byok;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    byok = await createByok({ database: { memory: true }, http: { authenticate: async () => ({ userId: 'u', via: 'host' }) } });
    byok.http.add(
      defineOperation({
        kind: 'raw',
        name: 'test.stream',
        summary: 'A fixed UI message stream',
        auth: 'required',
        produces: 'event-stream',
        input: z.object({ fail: z.enum(['byok', 'other']).optional(), refuse: z.boolean().optional() }).passthrough(),
        http: { method: 'POST', path: '/test/stream' },
        handler: async ({ input }) => {
          const failure = input.fail === 'byok' ? new ByokError('provider_unavailable', 'The model provider is unavailable') : input.fail === 'other' ? new Error('secret-ish detail at db:5432') : undefined;
          return uiMessageStreamResponse({ events: events(input.refuse ? [] : input.fail ? CHUNKS.slice(0, 5) : CHUNKS, failure) });
        },
      }),
    );
    server = createServer(nodeListener(byok.http));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await byok.close();
  });

  it('answers with exactly the headers the AI SDK sends', async () => {
    const res = await fetch(`${base}/test/stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await res.text();
    expect(res.status).toBe(200);
    for (const [name, value] of Object.entries(UI_MESSAGE_STREAM_HEADERS)) expect(res.headers.get(name)).toBe(value);
    expect(UI_MESSAGE_STREAM_HEADERS).toEqual(
      // the AI SDK's own constant, in both majors
      Object.fromEntries(Object.entries(ai5.UI_MESSAGE_STREAM_HEADERS)),
    );
    expect(ai6.UI_MESSAGE_STREAM_HEADERS).toEqual(ai5.UI_MESSAGE_STREAM_HEADERS);
  });

  it('frames every chunk as the AI SDK does (data only, no event line), with its run position as the id, and ends with [DONE]', async () => {
    const res = await fetch(`${base}/test/stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const text = await res.text();
    expect(text).toBe(expectedSse(CHUNKS));
    expect(text).not.toMatch(/^event:/m);
    // what ai's own JsonToSseTransformStream writes for the same chunks, without our ids
    const theirs = await new Response(
      new ReadableStream({
        start(controller) {
          for (const chunk of CHUNKS) controller.enqueue(chunk);
          controller.close();
        },
      })
        .pipeThrough(new ai5.JsonToSseTransformStream())
        .pipeThrough(new TextEncoderStream()),
    ).text();
    expect(text.replace(/^id: .*\n/gm, '')).toBe(theirs);
  });

  for (const [name, sdk] of [
    ['ai 5', ai5 as AiClient],
    ['ai 6', ai6 as AiClient],
  ] as const) {
    it(`is read by ${name}'s DefaultChatTransport and readUIMessageStream into the whole message`, async () => {
      const transport = new sdk.DefaultChatTransport({ api: `${base}/test/stream` });
      const stream = await transport.sendMessages({
        trigger: 'submit-message',
        chatId: 'chat-1',
        messageId: undefined,
        messages: [{ id: 'user-1', role: 'user', parts: [{ type: 'text', text: 'Weather?' }] }],
        abortSignal: undefined,
      });
      const [forChunks, forMessage] = stream.tee();
      const received: unknown[] = [];
      for await (const chunk of forChunks as unknown as AsyncIterable<unknown>) received.push(chunk);
      expect(received).toEqual(CHUNKS);
      let message: any;
      for await (const snapshot of sdk.readUIMessageStream({ stream: forMessage, terminateOnError: true })) message = snapshot;
      expect(message.id).toBe('assistant-1');
      expect(message.role).toBe('assistant');
      expect(message.metadata).toEqual({ runId: RUN, seq: 2, usage: { inputTokens: 12, outputTokens: 9 } });
      const parts = message.parts.filter((p: { type: string }) => p.type !== 'step-start');
      expect(parts).toEqual([
        { type: 'data-byok-turn', data: CHUNKS[1]!.type === 'data-byok-turn' ? (CHUNKS[1] as { data: unknown }).data : null },
        expect.objectContaining({ type: 'reasoning', text: 'Thinking “about” it… ', providerMetadata: { gemini: { thoughtSignature: 'c2ln' } }, state: 'done' }),
        expect.objectContaining({ type: 'tool-weather', toolCallId: 'call-1', state: 'output-available', input: { city: 'Lisbon' }, output: { celsius: 21 } }),
        { type: 'text', text: 'It is 21 °C in Lisbon\n\ndata: not an event 🌤', state: 'done' },
        { type: 'data-byok-usage', data: { inputTokens: 12, outputTokens: 9 } },
      ]);
    });

    it(`ends a failed stream with an error chunk ${name} reports, then [DONE], never leaking a non-byok error`, async () => {
      for (const fail of ['byok', 'other'] as const) {
        const raw = await (await fetch(`${base}/test/stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fail }) })).text();
        const errorText = fail === 'byok' ? 'The model provider is unavailable' : 'Internal error';
        expect(raw).toBe(expectedSse(CHUNKS.slice(0, 5)).replace('data: [DONE]\n\n', `data: ${JSON.stringify({ type: 'error', errorText })}\n\ndata: [DONE]\n\n`));
        expect(raw).not.toContain('5432');
        const transport = new sdk.DefaultChatTransport({ api: `${base}/test/stream`, body: { fail } });
        const stream = await transport.sendMessages({ trigger: 'submit-message', chatId: 'c', messageId: undefined, messages: [], abortSignal: undefined });
        const errors: string[] = [];
        for await (const _ of sdk.readUIMessageStream({ stream, onError: (e: unknown) => errors.push((e as Error).message) })) void _;
        expect(errors).toEqual([errorText]);
      }
    });
  }

  it('answers a producer refused before its first event with that error as HTTP, not as a stream', async () => {
    const res = await fetch(`${base}/test/stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fail: 'byok', refuse: true }) });
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ error: { code: 'provider_unavailable', message: 'The model provider is unavailable' } });
  });

  it('closes the producer when the stream is closed, even before its first event is read', async () => {
    let closed = 0;
    const source: AsyncIterable<ChatEvent> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => ({ done: false, value: { runId: RUN, position: 1, chunk: { type: 'start' } } }),
        return: async () => {
          closed += 1;
          return { done: true, value: undefined };
        },
      }),
    };
    await uiMessageSseEvents(source)[Symbol.asyncIterator]().return!();
    expect(closed).toBe(1);
    const response = await uiMessageStreamResponse({ events: source });
    await response.stream![Symbol.asyncIterator]().return!();
    expect(closed).toBe(2);
  });
});

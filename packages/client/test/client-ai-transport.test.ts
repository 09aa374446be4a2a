import * as ai5 from 'ai5';
import * as ai6 from 'ai6';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ByokChatTransport } from '../src/ai/index';
import { startClientHarness, type ClientHarness } from './client-harness';
import { REPLY, chatSession, storedReply, until } from './chat-helpers';

type Ai = typeof ai5 | typeof ai6;
type Message = { id: string; role: string; parts: Array<{ type: string; text?: string; state?: string }> };

/** What `useChat` does with a transport's stream: `readUIMessageStream` assembles the assistant message. */
async function assemble(ai: Ai, stream: ReadableStream<unknown>): Promise<Message> {
  let last: Message | undefined;
  // ai 5's and ai 6's signatures differ only in their chunk types; each reads the same stream.
  const read = ai.readUIMessageStream as (options: { stream: ReadableStream<never> }) => AsyncIterable<unknown>;
  for await (const message of read({ stream: stream as ReadableStream<never> })) last = message as Message;
  if (!last) throw new Error('the stream assembled no message');
  return last;
}

const textOfMessage = (message: Message) =>
  message.parts
    .filter((p) => p.type === 'text')
    .map((p) => p.text)
    .join('');

const userMessage = (id: string, text: string) => ({ id, role: 'user' as const, parts: [{ type: 'text' as const, text }] });

describe.each([
  ['ai 5.x', ai5 as Ai],
  ['ai 6.x', ai6 as Ai],
])('the chat transport read by %s', (_name, ai) => {
  let h: ClientHarness;
  beforeAll(async () => {
    h = await startClientHarness();
  });
  afterAll(async () => {
    await h?.close();
  });
  afterEach(() => h.gemini.reset());

  it('gives the same assistant message as stored', async () => {
    const { client } = await h.browser('alice');
    const sessionId = await chatSession(h, client);
    const transport = new ByokChatTransport({ client });
    const stream = await transport.sendMessages({
      chatId: sessionId,
      trigger: 'submit-message',
      messageId: undefined,
      messages: [userMessage('u-1', 'Hello')],
      abortSignal: undefined,
    });
    const message = await assemble(ai, stream);
    const stored = await storedReply(client, sessionId);
    expect(message.role).toBe('assistant');
    expect(message.id).toBe(stored.id);
    expect(textOfMessage(message)).toBe(stored.text);
    expect(stored.text).toBe(REPLY);
    // Only the last user message went over the wire.
    const send = h.seen.filter((r) => r.method === 'POST' && r.path === `/chat/sessions/${sessionId}/messages`);
    expect(send).toHaveLength(1);
  });

  it('regenerates a reply by the message id the stream gave it: a sibling reply is stored and shown', async () => {
    const { client } = await h.browser('alice');
    const sessionId = await chatSession(h, client);
    const transport = new ByokChatTransport({ client });
    const first = await assemble(
      ai,
      await transport.sendMessages({ chatId: sessionId, trigger: 'submit-message', messageId: undefined, messages: [userMessage('u-r', 'Again')], abortSignal: undefined }),
    );
    h.gemini.setReply(() => 'a second answer');
    const second = await assemble(
      ai,
      await transport.sendMessages({ chatId: sessionId, trigger: 'regenerate-message', messageId: first.id, messages: [userMessage('u-r', 'Again')], abortSignal: undefined }),
    );
    expect(second.id).not.toBe(first.id);
    expect(textOfMessage(second)).toBe('a second answer');
    const stored = await storedReply(client, sessionId);
    expect([stored.id, stored.text]).toEqual([second.id, 'a second answer']);
    expect(stored.siblings).toMatchObject({ count: 2 });
  });

  it('assembles the same text across a connection the server dropped mid-reply', async () => {
    const { client } = await h.browser('alice');
    const sessionId = await chatSession(h, client, 40);
    const transport = new ByokChatTransport({ client });
    h.dropAfter(/\/chat\/sessions\/[^/]+\/messages$/, 5);
    const stream = await transport.sendMessages({
      chatId: sessionId,
      trigger: 'submit-message',
      messageId: undefined,
      messages: [userMessage('u-2', 'Through a drop')],
      abortSignal: undefined,
    });
    const message = await assemble(ai, stream);
    expect(h.seen.some((r) => r.path === `/chat/sessions/${sessionId}/stream` && typeof r.headers['last-event-id'] === 'string')).toBe(true);
    expect(textOfMessage(message)).toBe(REPLY);
    expect((await storedReply(client, sessionId)).text).toBe(REPLY);
  });

  it('reconnectToStream: null when nothing streams, the live reply when one does', async () => {
    const { client } = await h.browser('alice');
    const sessionId = await chatSession(h, client, 40);
    const transport = new ByokChatTransport({ client });
    expect(await transport.reconnectToStream({ chatId: sessionId })).toBeNull();
    const first = await transport.sendMessages({
      chatId: sessionId,
      trigger: 'submit-message',
      messageId: undefined,
      messages: [userMessage('u-3', 'Reload me')],
      abortSignal: undefined,
    });
    const reconnected = await transport.reconnectToStream({ chatId: sessionId });
    expect(reconnected).not.toBeNull();
    const [a, b] = await Promise.all([assemble(ai, first), assemble(ai, reconnected!)]);
    expect(textOfMessage(b)).toBe(REPLY);
    expect(b.id).toBe(a.id);
  });

  it('an abort (useChat’s stop) ends the stream and stops the reply on the server: stored incomplete', async () => {
    const { client } = await h.browser('alice');
    const sessionId = await chatSession(h, client, 60);
    const transport = new ByokChatTransport({ client });
    const controller = new AbortController();
    const stream = await transport.sendMessages({
      chatId: sessionId,
      trigger: 'submit-message',
      messageId: undefined,
      messages: [userMessage('u-4', 'Stop me')],
      abortSignal: controller.signal,
    });
    const reader = stream.getReader();
    for (;;) {
      const { value } = await reader.read();
      if ((value as { type?: string } | undefined)?.type === 'text-delta') break;
    }
    controller.abort();
    await expect(reader.read()).rejects.toMatchObject({ name: 'AbortError' });
    await until(async () => (await storedReply(client, sessionId)).status !== 'streaming');
    const stored = await storedReply(client, sessionId);
    expect(stored.status).toBe('incomplete');
    expect(stored.text.length).toBeLessThan(REPLY.length);
    expect(h.seen.some((r) => r.method === 'POST' && r.path === `/chat/sessions/${sessionId}/stop`)).toBe(true);
  });
});

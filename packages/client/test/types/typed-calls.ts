// Compiled by tsc in client-types.test.ts: every `@ts-expect-error` must meet an error,
// so a client whose types fell back to `any` fails there.
import { createByokClient, type ByokClient } from '../../src/index';
import { ByokChatTransport } from '../../src/ai/index';
// `ai` is ai 5.x in one compilation and ai 6.x in the other (tsconfig.ai5.json, tsconfig.ai6.json).
import type { ChatTransport, UIMessage } from 'ai';

const client: ByokClient = createByokClient({ baseUrl: '/api' });

export async function typedCalls(): Promise<void> {
  const status = await client.call('keys.set', { provider: 'gemini', apiKey: 'AIza-test' });
  const last4: string = status.last4;
  const state: 'valid' | 'invalid' | 'unverified' = status.status;
  // @ts-expect-error a field the key status does not have
  void status.apiKey;

  // @ts-expect-error a wrong input field (keys.set is strict)
  await client.call('keys.set', { provider: 'gemini', apiKey: 'AIza-test', apikey: 'x' });
  // @ts-expect-error a required input field missing
  await client.call('keys.set', { provider: 'gemini' });
  // @ts-expect-error an input field of the wrong type
  await client.call('keys.get', { provider: 42 });
  // @ts-expect-error an operation that does not exist
  await client.call('keys.sett', { provider: 'gemini' });
  // @ts-expect-error a streamed operation is not a call
  await client.call('chat.messages.send', { sessionId: 's', text: 'hi' });

  // No required input: the input may be left out.
  const { items } = await client.call('keys.list');
  const providers: string[] = items.map((item) => item.provider);
  await client.call('keys.remove', { provider: 'gemini' }).then((nothing: void) => nothing);
  const markdown: string = await client.call('chat.sessions.exportMarkdown', { sessionId: 's' });

  const reply = await client.stream('chat.messages.send', { sessionId: 's', text: 'Hello' });
  // @ts-expect-error a call is not a stream
  await client.stream('keys.list');
  for await (const chunk of reply) if (chunk.type === 'text-delta') void chunk.delta;
  void [last4, state, providers, markdown];
}

// What `useChat` takes.
export const transport: ChatTransport<UIMessage> = new ByokChatTransport({ client });

import type { UiMessageChunk } from '../src/index';
import type { ByokClient } from '../src/index';
import { GEMINI_KEY, type ClientHarness } from './client-harness';

/** A reply long enough to stream for a while when the stand-in is slowed. */
export const REPLY = Array.from({ length: 24 }, (_, i) => `word${i}`).join(' ');

/** Reads every chunk of a stream. */
export async function readAll(stream: ReadableStream<UiMessageChunk>): Promise<UiMessageChunk[]> {
  const out: UiMessageChunk[] = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

/** The answer text the chunks carried. */
export function textOf(chunks: readonly UiMessageChunk[]): string {
  return chunks.map((c) => (c.type === 'text-delta' ? c.delta : '')).join('');
}

/** Alice's key set and a fresh chat session; the stand-in streams REPLY in 12 chunks, `delayMs` apart. */
export async function chatSession(h: ClientHarness, client: ByokClient, delayMs = 0): Promise<string> {
  await client.call('keys.set', { provider: 'gemini', apiKey: GEMINI_KEY });
  h.gemini.setReply(() => REPLY);
  h.gemini.configure({ chunks: 12, chunkDelayMs: delayMs });
  const session = await client.call('chat.sessions.create', { provider: 'gemini', model: h.model });
  return session.id;
}

/** The newest assistant message of the session's active path, as stored. */
export async function storedReply(client: ByokClient, sessionId: string) {
  const page = await client.call('chat.messages.list', { sessionId });
  const reply = page.items.filter((m) => m.role === 'assistant').at(-1);
  if (!reply) throw new Error('no stored reply');
  return reply;
}

/** Waits until `check` holds, polling. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

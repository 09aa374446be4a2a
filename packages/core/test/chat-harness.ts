// Shared setup of the chat tests: a byok on one backend (memory or a real database) with
// the real Gemini and OpenAI-compatible providers pointed at their stand-ins, and two
// users with keys stored through the vault.
import { createByok, isByokError, localKms, type Byok, type ByokOptions } from '@byok/core';
import { gemini } from '@byok/gemini';
import { openaiCompatible } from '@byok/openai-compatible';
import { createTestDatabase, startGeminiStandIn, startOpenAiStandIn, startTcpProxy, type LlmStandIn, type TcpProxy, type TestDatabase, type TestDatabaseConfig } from '@byok/testing';
import type { ChatEvent, UiMessageChunk } from '../src/chat/chat-events';

export const MASTER = `1:${Buffer.alloc(32, 9).toString('base64')}`;
export const GEMINI_KEY = 'AIzaSyCHAT-alice-000000000000000000000001';
export const GEMINI_KEY_B = 'AIzaSyCHAT-bob-00000000000000000000000002';
export const OPENAI_KEY = 'sk-chat-alice-0000000000000000000000001';

export type Backend = 'memory' | 'sqlite' | 'postgres' | 'mysql';

export interface ChatHarness {
  byok: Byok;
  gemini: LlmStandIn;
  openai: LlmStandIn;
  db: TestDatabase | undefined;
  /** With `{ proxy: true }`: the TCP proxy every database connection goes through, to cut and restore. */
  proxy: TcpProxy | undefined;
  alice: string;
  bob: string;
  /** Another byok on the same database and stand-ins (a second instance). */
  another(options?: Partial<ByokOptions>): Promise<Byok>;
  close(): Promise<void>;
}

export async function startChatHarness(kind: Backend, options: Partial<ByokOptions> = {}, setup: { proxy?: boolean } = {}): Promise<ChatHarness> {
  const geminiStandIn = await startGeminiStandIn({ keys: [GEMINI_KEY, GEMINI_KEY_B] });
  const openaiStandIn = await startOpenAiStandIn({ keys: [OPENAI_KEY] });
  const db = kind === 'memory' ? undefined : await createTestDatabase(kind);
  let database: ByokOptions['database'] = db ? db.config : { memory: true };
  let proxy: TcpProxy | undefined;
  if (setup.proxy) {
    if (kind !== 'postgres' && kind !== 'mysql') throw new Error('a proxy needs a database server');
    const url = new URL((db!.config as Record<string, string>)[kind]!);
    proxy = await startTcpProxy(Number(url.port || (kind === 'postgres' ? 5432 : 3306)), url.hostname);
    url.port = String(proxy.port);
    database = { [kind]: url.toString() } as TestDatabaseConfig;
  }
  const make = (extra: Partial<ByokOptions> = {}): Promise<Byok> =>
    createByok({
      database,
      kms: localKms({ keys: MASTER }),
      providers: [gemini({ baseUrl: geminiStandIn.url }), openaiCompatible({ id: 'openai', baseUrl: openaiStandIn.url })],
      rateLimits: { chat_send: { perUser: 1_000, perIp: 1_000 }, chatStream: { perUser: 100 } },
      ...options,
      ...extra,
    });
  const byok = await make();
  const extras: Byok[] = [];
  const alice = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'alice' })).user.id;
  const bob = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'bob' })).user.id;
  await byok.keyVault.setKey(alice, 'gemini', GEMINI_KEY);
  await byok.keyVault.setKey(alice, 'openai', OPENAI_KEY);
  await byok.keyVault.setKey(bob, 'gemini', GEMINI_KEY_B);
  geminiStandIn.reset();
  openaiStandIn.reset();
  return {
    byok,
    gemini: geminiStandIn,
    openai: openaiStandIn,
    db,
    proxy,
    alice,
    bob,
    async another(extra) {
      if (!db) throw new Error('a second instance needs a real database');
      const other = await make(extra);
      extras.push(other);
      return other;
    },
    async close() {
      for (const other of extras) await other.close();
      await byok.close();
      await geminiStandIn.close();
      await openaiStandIn.close();
      await proxy?.close();
      await db?.drop();
    },
  };
}

/** Every event of a stream. */
export async function collect(events: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

export function chunks(events: readonly ChatEvent[]): UiMessageChunk[] {
  return events.map((e) => e.chunk);
}

/** The answer text the stream carried. */
export function streamedText(events: readonly ChatEvent[]): string {
  return events.map((e) => (e.chunk.type === 'text-delta' ? e.chunk.delta : '')).join('');
}

/** The code a promise (or the first step of a stream) fails with. */
export async function codeOf(work: Promise<unknown> | AsyncIterable<unknown>): Promise<string | undefined> {
  try {
    if (Symbol.asyncIterator in Object(work)) {
      for await (const _ of work as AsyncIterable<unknown>) break;
    } else {
      await work;
    }
    return undefined;
  } catch (e) {
    return isByokError(e) ? e.code : `not-byok: ${String(e)}`;
  }
}

/** Waits until `check` holds, polling. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The generation requests (not model lists) a stand-in received. */
export function generations(standIn: LlmStandIn) {
  return standIn.requests.filter((r) => r.route === 'stream' || r.route === 'generate');
}

/** Reads a stream in the background: its events so far, a promise for the first text delta, and its end. */
export function reading(events: AsyncIterable<ChatEvent>, options: { stopAfterFirstDelta?: boolean } = {}) {
  const seen: ChatEvent[] = [];
  let firstDelta: () => void = () => undefined;
  const delta = new Promise<void>((resolve) => (firstDelta = resolve));
  const done = (async () => {
    try {
      for await (const event of events) {
        seen.push(event);
        if (event.chunk.type === 'text-delta') {
          firstDelta();
          if (options.stopAfterFirstDelta) break;
        }
      }
      return seen;
    } finally {
      firstDelta();
    }
  })();
  return { seen, firstDelta: delta, done };
}

/** A reply of `words` words, so a slowed stand-in streams it for a while. */
export function longText(words = 40): string {
  return Array.from({ length: words }, (_, i) => `word${i}`).join(' ');
}

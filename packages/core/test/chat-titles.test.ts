import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createByok, isByokError, localKms, type Byok, type LlmProvider } from '@byok/core';
import { gemini } from '@byok/gemini';
import { createTestDatabase, selectTestBackends, startGeminiStandIn, type LlmStandIn, type TestDatabase } from '@byok/testing';
import { cleanTitle, SessionTitles, type CompletedTurn } from '../src/chat/session-titles';
import type { ChatMessageRow, ChatSessionRow } from '../src/store/chat-repositories';
import { uuidv7 } from '../src/util/ids';

const MASTER = `1:${randomBytes(32).toString('base64')}`;
const KEY = `AIzaSyTITLES${randomBytes(14).toString('hex')}`;
const TITLE_PROMPT = 'You name chat conversations';

interface LogLine {
  level: string;
  obj: object;
  msg: string | undefined;
}

describe('cleanTitle', () => {
  it('keeps the first line, drops a Title: lead, heading marks, quotes, emphasis, invisible characters and a trailing period', () => {
    expect(cleanTitle('Title: "Why the sky is blue."\nSecond line', 60)).toBe('Why the sky is blue');
    expect(cleanTitle('\n\n## **Tides and the Moon**\n', 60)).toBe('Tides and the Moon');
    expect(cleanTitle('«Les marées»', 60)).toBe('Les marées');
    expect(cleanTitle('Evil\u202Etitle\u0007 here', 60)).toBe('Evil title here');
    expect(cleanTitle('   \n  ', 60)).toBe('');
  });

  it('cuts a long title at a word, with an ellipsis, never splitting a character', () => {
    const title = cleanTitle('The long and winding history of ocean tides across the planet', 30);
    expect(Array.from(title).length).toBeLessThanOrEqual(30);
    expect(title).toBe('The long and winding history…');
    expect(cleanTitle('🌊'.repeat(40), 12)).toBe(`${'🌊'.repeat(11)}…`);
  });
});

describe('SessionTitles options', () => {
  it('refuses a bad chat.titles option as config_invalid', async () => {
    const store = { chatSessions: {}, chatMessages: {}, chatMaintenance: {} } as never;
    for (const options of [{ maxLength: 5 }, { maxLength: 201 }, { model: '' }, { timeoutMs: 10 }, { other: true }, 'yes']) {
      let code: string | undefined;
      try {
        new SessionTitles({ store, keyVault: { withKey: async () => undefined as never }, providers: [], options: options as never });
      } catch (e) {
        code = isByokError(e) ? e.code : 'not-byok';
      }
      expect(code, JSON.stringify(options)).toBe('config_invalid');
    }
    expect(new SessionTitles({ store, keyVault: { withKey: async () => undefined as never }, providers: [] }).enabled).toBe(false);
  });
});

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('session titles on %s', (kind) => {
  let db: TestDatabase | undefined;
  let standIn: LlmStandIn;
  let provider: LlmProvider;
  let byok: Byok;
  let userId: string;
  let titleAnswer = '"Tides and the Moon."';
  const logs: LogLine[] = [];
  const logger = {
    info: (obj: object, msg?: string) => void logs.push({ level: 'info', obj, msg }),
    warn: (obj: object, msg?: string) => void logs.push({ level: 'warn', obj, msg }),
    error: (obj: object, msg?: string) => void logs.push({ level: 'error', obj, msg }),
  };

  const titles = (options: ConstructorParameters<typeof SessionTitles>[0]['options'] = true, providers = [provider]) =>
    new SessionTitles({ store: byok.store, keyVault: byok.keyVault, providers, logger, options });

  async function newSession(title: string | null = null): Promise<ChatSessionRow> {
    const at = Date.now();
    const row: ChatSessionRow = {
      id: uuidv7(at),
      userId,
      title,
      provider: 'gemini',
      model: 'gemini-2.5-flash',
      systemPrompt: null,
      activeLeafId: null,
      lastSeq: 0,
      usage: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 },
      createdAt: at,
      updatedAt: at,
    };
    await byok.store.chatSessions.insert(row);
    return row;
  }

  function messageRow(session: ChatSessionRow, seq: number, fields: Partial<ChatMessageRow>): ChatMessageRow {
    const at = Date.now();
    return {
      id: uuidv7(at),
      sessionId: session.id,
      userId,
      parentId: null,
      seq,
      role: 'user',
      text: '',
      parts: '[]',
      status: 'complete',
      errorCode: null,
      clientMessageId: null,
      inputHash: null,
      runId: null,
      leaseExpiresAt: null,
      stopRequestedAt: null,
      usage: null,
      usageCounts: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 },
      tokenEstimate: 1,
      createdAt: at,
      updatedAt: at,
      ...fields,
    };
  }

  /**
   * One chat turn the way the chat service runs it: the user message and a streaming reply
   * row, the reply streamed from the provider with the user's key, stored complete, then the
   * turn reported to the titles hook right before the last event goes out. Yields what a
   * client would receive.
   */
  async function* chatTurn(
    hook: SessionTitles,
    session: ChatSessionRow,
    userText: string,
    parentId: string | null = null,
    passTexts = true,
  ): AsyncGenerator<{ type: 'delta'; text: string } | { type: 'finish'; replyId: string }> {
    const runId = uuidv7();
    const user = (await byok.store.chatMessages.append(userId, session.id, (seq) => messageRow(session, seq, { parentId, text: userText, parts: JSON.stringify([{ type: 'text', text: userText }]) }), { activate: true }))!;
    const reply = (await byok.store.chatMessages.append(
      userId,
      session.id,
      (seq) => messageRow(session, seq, { parentId: user.id, role: 'assistant', status: 'streaming', runId, leaseExpiresAt: Date.now() + 60_000 }),
      { activate: true },
    ))!;
    let text = '';
    const events: string[] = [];
    await byok.keyVault.withKey(userId, 'gemini', async (apiKey) => {
      for await (const event of provider.stream(apiKey, { model: session.model, messages: [{ role: 'user', parts: [{ type: 'text', text: userText }] }] })) {
        if (event.type === 'text-delta') {
          text += event.text;
          events.push(event.text);
        }
      }
    });
    for (const delta of events) yield { type: 'delta', text: delta };
    await byok.store.chatMessages.updateRun(userId, reply.id, runId, { status: 'complete', text, parts: JSON.stringify([{ type: 'text', text }]), leaseExpiresAt: null, updatedAt: Date.now() });
    const turn: CompletedTurn = { userId, sessionId: session.id, replyMessageId: reply.id, ...(passTexts ? { userText, replyText: text } : {}) };
    // Awaited on purpose: whatever afterTurn returns must not hold the last event back.
    await hook.afterTurn(turn);
    yield { type: 'finish', replyId: reply.id };
  }

  async function drain(turn: AsyncGenerator<{ type: string; replyId?: string }>): Promise<{ replyId: string; finishedAt: number }> {
    let replyId = '';
    for await (const event of turn) if (event.type === 'finish') replyId = event.replyId!;
    return { replyId, finishedAt: Date.now() };
  }

  const titleRequests = () => standIn.requests.filter((r) => r.route === 'generate');

  beforeAll(async () => {
    standIn = await startGeminiStandIn({
      keys: [KEY],
      reply: (turn) => (turn.system.includes(TITLE_PROMPT) ? titleAnswer : 'Tides come from the pull of the Moon and the Sun on the oceans.'),
    });
    provider = gemini({ baseUrl: standIn.url });
    db = kind === 'memory' ? undefined : await createTestDatabase(kind);
    byok = await createByok({ database: db ? db.config : { memory: true }, kms: localKms({ keys: MASTER }), providers: [provider] });
    userId = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: `titles-${kind}` })).user.id;
    await byok.keyVault.setKey(userId, 'gemini', KEY);
  });
  afterEach(() => {
    standIn.configure({ latencyMs: 0 });
    standIn.clearFaults();
    titleAnswer = '"Tides and the Moon."';
    logs.length = 0;
  });
  afterAll(async () => {
    await byok?.close();
    await standIn?.close();
    await db?.drop();
  });

  it('titles a new session from its first exchange after the reply, with the user’s key, and never delays the reply', async () => {
    const hook = titles({ maxLength: 40 });
    const session = await newSession();
    const turn = chatTurn(hook, session, 'How do tides work?');
    // The reply streams at full speed; from here on the title call is slow (1.2 s).
    let first = await turn.next();
    expect(first.value).toMatchObject({ type: 'delta' });
    standIn.configure({ latencyMs: 1_200 });
    const started = Date.now();
    const { replyId, finishedAt } = await drain(turn);
    expect(finishedAt - started).toBeLessThan(400);
    expect((await byok.store.chatMessages.get(userId, replyId))!.status).toBe('complete');
    // The reply is finished; the title is not there yet.
    expect((await byok.store.chatSessions.get(userId, session.id))!.title).toBeNull();

    await hook.idle();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_100);
    const stored = (await byok.store.chatSessions.get(userId, session.id))!;
    expect(stored.title).toBe('Tides and the Moon');
    // A title is not activity: the session's place in the list does not move.
    expect(stored.updatedAt).toBe((await byok.store.chatMessages.get(userId, replyId))!.createdAt);

    const [request] = titleRequests().slice(-1);
    expect(request).toMatchObject({ key: KEY, model: 'gemini-2.5-flash', completed: true });
    const body = JSON.stringify(request!.body);
    expect(body).toContain(TITLE_PROMPT);
    expect(body).toContain('at most 40 characters');
    expect(body).toContain('How do tides work?');
    expect(body).toContain('pull of the Moon');
    // The reply's stream request came first and had ended before the title was asked.
    const stream = standIn.requests.findLast((r) => r.route === 'stream')!;
    expect(stream.id).toBeLessThan(request!.id);
    expect(stream.completed).toBe(true);
    first = await turn.next();
    expect(first.done).toBe(true);
  });

  it('uses the configured model, reads the exchange from the rows when not given, and keeps a rename made meanwhile', async () => {
    const hook = titles({ model: 'gemini-2.5-pro' });
    const session = await newSession();
    const asked = titleRequests().length;
    const lastId = standIn.requests.at(-1)?.id ?? 0;
    const turn = chatTurn(hook, session, 'Plan a trip to Lisbon', null, false);
    await turn.next();
    standIn.configure({ latencyMs: 500 });
    await drain(turn);
    // The title call is on its way: the user renames the session meanwhile.
    // (The stand-in names the route only after its latency: match the path, logged on arrival.)
    await standIn.waitFor((r) => r.path.includes(':generateContent') && r.id > lastId, 5_000);
    expect(titleRequests().length).toBe(asked);
    await byok.store.chatSessions.update(userId, session.id, { title: 'My Lisbon trip', updatedAt: Date.now() });
    await hook.idle();
    expect(titleRequests().length).toBe(asked + 1);
    expect(titleRequests().at(-1)!.model).toBe('gemini-2.5-pro');
    expect(JSON.stringify(titleRequests().at(-1)!.body)).toContain('User: Plan a trip to Lisbon\\n\\nAssistant: Tides come from the pull');
    expect((await byok.store.chatSessions.get(userId, session.id))!.title).toBe('My Lisbon trip');
  });

  it('asks nothing for a later exchange, a titled session, an unfinished reply, or with titles off', async () => {
    const on = titles();
    const session = await newSession();
    const { replyId } = await drain(chatTurn(titles(false), session, 'First question'));
    await on.idle();
    const asked = titleRequests().length;
    await drain(chatTurn(on, session, 'A follow-up', replyId));
    const named = await newSession('Named by the user');
    await drain(chatTurn(on, named, 'Hello there'));
    await on.idle();
    expect(titleRequests().length).toBe(asked);
    expect((await byok.store.chatSessions.get(userId, session.id))!.title).toBeNull();
    expect((await byok.store.chatSessions.get(userId, named.id))!.title).toBe('Named by the user');

    // A reply that did not complete, and another user's session: nothing is asked.
    const other = await newSession();
    const user = (await byok.store.chatMessages.append(userId, other.id, (seq) => messageRow(other, seq, { text: 'q' }), { activate: true }))!;
    const incomplete = (await byok.store.chatMessages.append(userId, other.id, (seq) => messageRow(other, seq, { role: 'assistant', parentId: user.id, status: 'incomplete', errorCode: 'cancelled' }), { activate: true }))!;
    on.afterTurn({ userId, sessionId: other.id, replyMessageId: incomplete.id, userText: 'q', replyText: '' });
    const fresh = await newSession();
    const { replyId: freshReply } = await drain(chatTurn(titles(false), fresh, 'Whose is this?'));
    on.afterTurn({ userId: uuidv7(), sessionId: fresh.id, replyMessageId: freshReply, userText: 'x', replyText: 'y' });
    await on.idle();
    expect(titleRequests().length).toBe(asked);
    expect((await byok.store.chatSessions.get(userId, fresh.id))!.title).toBeNull();
  });

  it('logs a failed or timed-out title call, sanitised, and never surfaces it: the session stays untitled', async () => {
    // A provider whose error carries the key: the log line must not.
    const leaky: LlmProvider = { ...provider, generate: async (apiKey) => Promise.reject(new Error(`upstream said no to ${apiKey}`)) };
    const hook = titles(true, [leaky]);
    const session = await newSession();
    await drain(chatTurn(hook, session, 'Tell me about volcanoes'));
    await hook.idle();
    expect((await byok.store.chatSessions.get(userId, session.id))!.title).toBeNull();
    const failure = logs.find((l) => l.msg === 'chat title generation failed');
    expect(failure).toBeDefined();
    expect(JSON.stringify(logs)).not.toContain(KEY);

    // The title call hangs: it is given up after timeoutMs, the reply was long done.
    standIn.injectFault({ kind: 'hang' }, { route: 'generate' });
    const slow = titles({ timeoutMs: 1_000 });
    const second = await newSession();
    const started = Date.now();
    await drain(chatTurn(slow, second, 'Tell me about glaciers'));
    expect(Date.now() - started).toBeLessThan(800);
    await slow.idle();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await byok.store.chatSessions.get(userId, second.id))!.title).toBeNull();
    expect(logs.filter((l) => l.msg === 'chat title generation failed')).toHaveLength(2);

    // An answer that is no title at all is not stored.
    standIn.clearFaults();
    titleAnswer = '   ';
    const third = await newSession();
    await drain(chatTurn(slow, third, 'Hi'));
    await slow.idle();
    expect((await byok.store.chatSessions.get(userId, third.id))!.title).toBeNull();
  });

  it('close() aborts a title call in flight and takes no more turns', async () => {
    const hook = titles();
    const session = await newSession();
    const turn = chatTurn(hook, session, 'Explain photosynthesis');
    await turn.next();
    standIn.configure({ latencyMs: 5_000 });
    await drain(turn);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await hook.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await byok.store.chatSessions.get(userId, session.id))!.title).toBeNull();
    standIn.configure({ latencyMs: 0 });
    const later = await newSession();
    const asked = titleRequests().length;
    await drain(chatTurn(hook, later, 'Anyone there?'));
    await hook.idle();
    expect(titleRequests().length).toBe(asked);
  });
});

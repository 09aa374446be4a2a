import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectTestBackends } from '@byok/testing';
import type { MessagePart } from '../src/llm/message-parts';
import type { ChatMessageRow } from '../src/store/chat-repositories';
import { buildContextWindow, estimateTokens } from '../src/chat/context-window';
import { collect, generations, startChatHarness, type ChatHarness } from './chat-harness';

let seq = 0;
function row(role: ChatMessageRow['role'], parts: MessagePart[], extra: Partial<ChatMessageRow> = {}): ChatMessageRow {
  seq += 1;
  return {
    id: `m${seq}`,
    sessionId: 's',
    userId: 'u',
    parentId: null,
    seq,
    role,
    text: '',
    parts: JSON.stringify(parts),
    status: 'complete',
    errorCode: null,
    clientMessageId: null,
    inputHash: null,
    runId: null,
    leaseExpiresAt: null,
    stopRequestedAt: null,
    usage: null,
    usageCounts: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 },
    tokenEstimate: estimateTokens(parts),
    createdAt: 0,
    updatedAt: 0,
    ...extra,
  };
}
const text = (t: string): MessagePart[] => [{ type: 'text', text: t }];
const roles = (w: ReturnType<typeof buildContextWindow>) => w.messages.map((m) => `${m.role}:${m.parts.map((p) => (p.type === 'text' ? p.text : p.type)).join('+')}`);

describe('the context window', () => {
  const path = [row('user', text('u1')), row('assistant', text('a1')), row('user', text('u2')), row('assistant', text('a2')), row('user', text('u3'))];

  it('takes the last N messages, never starting with a reply', () => {
    expect(roles(buildContextWindow({ path, systemPrompt: null, maxMessages: 3, tokenBudget: null }))).toEqual(['user:u2', 'assistant:a2', 'user:u3']);
    const two = buildContextWindow({ path, systemPrompt: null, maxMessages: 2, tokenBudget: null });
    expect(roles(two)).toEqual(['user:u3']);
    expect(two.truncated).toBe(true);
    const all = buildContextWindow({ path, systemPrompt: 'sys', maxMessages: 100, tokenBudget: null });
    expect(all.truncated).toBe(false);
    expect(all.messageIds).toEqual(path.map((r) => r.id));
    expect(all.systemPrompt).toBe('sys');
  });

  it('keeps to a token budget, the system prompt counted first and kept, and the newest message always', () => {
    const per = path[0]!.tokenEstimate;
    const sys = 'x'.repeat(40); // 10 + 4 tokens
    const w = buildContextWindow({ path, systemPrompt: sys, maxMessages: 100, tokenBudget: 14 + per * 3 });
    expect(roles(w)).toEqual(['user:u2', 'assistant:a2', 'user:u3']);
    expect(w.estimatedTokens).toBe(14 + per * 3);
    const tight = buildContextWindow({ path, systemPrompt: sys, maxMessages: 100, tokenBudget: 1 });
    expect(roles(tight)).toEqual(['user:u3']);
    expect(tight.systemPrompt).toBe(sys);
  });

  it('keeps a tool call with its result, sends a reply as its steps, and pairs an open call with a cancelled result', () => {
    const call: MessagePart = { type: 'tool-call', toolCallId: 'c1', toolName: 'f', args: { a: 1 }, providerMetadata: { gemini: { thoughtSignature: 'sig' } } };
    const result: MessagePart = { type: 'tool-result', toolCallId: 'c1', toolName: 'f', result: { ok: true } };
    const withTools = [
      row('user', text('q')),
      row('assistant', [{ type: 'text', text: 'checking' }, call, result, { type: 'text', text: 'done' }]),
      row('user', text('q2')),
      row('assistant', [{ type: 'tool-call', toolCallId: 'c2', toolName: 'f', args: {} }], { status: 'incomplete', errorCode: 'lease_expired' }),
      row('user', text('q3')),
    ];
    const w = buildContextWindow({ path: withTools, systemPrompt: null, maxMessages: 100, tokenBudget: null });
    expect(roles(w)).toEqual(['user:q', 'assistant:checking+tool-call', 'tool:tool-result', 'assistant:done', 'user:q2', 'assistant:tool-call', 'tool:tool-result', 'user:q3']);
    expect(w.messages[1]!.parts[1]).toEqual(call);
    expect(w.messages[6]!.parts[0]).toMatchObject({ type: 'tool-result', toolCallId: 'c2', isError: true });

    // A host's own tool-role message stays with the reply before it: both or neither.
    const hostTool = [
      row('user', text('q')),
      row('assistant', [call]),
      row('tool', [result]),
      row('user', text('q2')),
    ];
    expect(roles(buildContextWindow({ path: hostTool, systemPrompt: null, maxMessages: 2, tokenBudget: null }))).toEqual(['user:q2']);
    expect(roles(buildContextWindow({ path: hostTool, systemPrompt: null, maxMessages: 4, tokenBudget: null }))).toEqual(['user:q', 'assistant:tool-call', 'tool:tool-result', 'user:q2']);
    const units = buildContextWindow({ path: hostTool, systemPrompt: null, maxMessages: 3, tokenBudget: null });
    expect(units.messages.some((m) => m.role === 'tool')).toBe(false);
  });

  it('leaves out replies without content and replies still streaming', () => {
    const w = buildContextWindow({
      path: [row('user', text('q')), row('assistant', [], { status: 'error', errorCode: 'provider_unavailable' }), row('user', text('q again')), row('assistant', text('so far'), { status: 'streaming' })],
      systemPrompt: null,
      maxMessages: 100,
      tokenBudget: null,
    });
    expect(roles(w)).toEqual(['user:q', 'user:q again']);
  });
});

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('the context window of a turn on %s', (kind) => {
  let h: ChatHarness;
  beforeAll(async () => {
    h = await startChatHarness(kind, { chat: { context: { maxMessages: 3 } } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is exactly what the preview shows, budgeted against the model’s reported input limit', async () => {
    const { byok, alice } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash', systemPrompt: 'You are terse.' });
    for (const t of ['one', 'two', 'three']) await collect(byok.chat.send(alice, s.id, { text: t }));
    const preview = await byok.chat.previewContext(alice, s.id, { input: { text: 'four' } });
    expect(preview).toMatchObject({ provider: 'gemini', model: 'gemini-2.5-flash', systemPrompt: 'You are terse.', maxMessages: 3, tokenBudget: 1_048_576, truncated: true });
    expect(preview.messages.map((m) => [m.role, m.parts])).toEqual([
      ['user', [{ type: 'text', text: 'three' }]],
      ['assistant', [{ type: 'text', text: 'echo: three' }]],
      ['user', [{ type: 'text', text: 'four' }]],
    ]);
    h.gemini.reset();
    await collect(byok.chat.send(alice, s.id, { text: 'four' }));
    const body = generations(h.gemini).at(-1)!.body as { contents: Array<{ role: string; parts: Array<{ text: string }> }>; systemInstruction: { parts: Array<{ text: string }> } };
    expect(body.contents.map((c) => [c.role === 'model' ? 'assistant' : c.role, c.parts.map((p) => p.text).join('')])).toEqual(
      preview.messages.map((m) => [m.role, m.parts.map((p) => (p.type === 'text' ? p.text : '')).join('')]),
    );
    expect(body.systemInstruction.parts[0]!.text).toBe('You are terse.');
    // Without the new message, the preview is the history the next turn builds on.
    const history = await byok.chat.previewContext(alice, s.id);
    expect(history.messages.at(-1)).toEqual({ role: 'assistant', parts: [{ type: 'text', text: 'echo: four' }] });
    // The last three are a reply, "four" and its reply: the window does not start with a reply.
    expect(history.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(history.messageIds).toHaveLength(2);
  });
});

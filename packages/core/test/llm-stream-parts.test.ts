import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../src/llm/llm-provider';
import { messagePartsSchema } from '../src/llm/message-parts';
import { StreamPartsBuilder } from '../src/llm/stream-parts';

describe('StreamPartsBuilder', () => {
  it('joins adjacent deltas, keeps the order, and merges metadata into the part a delta extends', () => {
    const events: StreamEvent[] = [
      { type: 'reasoning-delta', text: 'Think' },
      { type: 'reasoning-delta', text: 'ing', providerMetadata: { gemini: { thoughtSignature: 's0' } } },
      { type: 'text-delta', text: 'Hel' },
      { type: 'text-delta', text: 'lo' },
      { type: 'tool-call', toolCallId: 'c1', toolName: 'lookup', args: { q: 1 }, providerMetadata: { gemini: { thoughtSignature: 's1' } } },
      { type: 'tool-call', toolCallId: 'c2', toolName: 'lookup', args: { q: 2 } },
      { type: 'text-delta', text: 'Done' },
      { type: 'text-delta', text: '', providerMetadata: { gemini: { thoughtSignature: 's2' }, other: { x: 1 } } },
      { type: 'finish', model: 'm', finishReason: 'stop', usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } },
    ];
    const builder = new StreamPartsBuilder();
    for (const event of events) builder.add(event);
    const parts = builder.parts();
    expect(parts).toEqual([
      { type: 'reasoning', text: 'Thinking', providerMetadata: { gemini: { thoughtSignature: 's0' } } },
      { type: 'text', text: 'Hello' },
      { type: 'tool-call', toolCallId: 'c1', toolName: 'lookup', args: { q: 1 }, providerMetadata: { gemini: { thoughtSignature: 's1' } } },
      { type: 'tool-call', toolCallId: 'c2', toolName: 'lookup', args: { q: 2 } },
      { type: 'text', text: 'Done', providerMetadata: { gemini: { thoughtSignature: 's2' }, other: { x: 1 } } },
    ]);
    expect(messagePartsSchema.parse(parts)).toEqual(parts);
  });

  it('keeps an empty part only when it carries metadata, and hands out copies', () => {
    const builder = new StreamPartsBuilder();
    builder.add({ type: 'text-delta', text: '' });
    expect(builder.parts()).toEqual([]);
    builder.add({ type: 'text-delta', text: '', providerMetadata: { gemini: { thoughtSignature: 's' } } });
    const first = builder.parts();
    expect(first).toEqual([{ type: 'text', text: '', providerMetadata: { gemini: { thoughtSignature: 's' } } }]);
    (first[0] as { text: string }).text = 'changed';
    expect(builder.parts()[0]).toMatchObject({ text: '' });
  });

  it('does not let a later delta change metadata handed in earlier', () => {
    const metadata = { gemini: { thoughtSignature: 'a' } };
    const builder = new StreamPartsBuilder();
    builder.add({ type: 'text-delta', text: 'x', providerMetadata: metadata });
    builder.add({ type: 'text-delta', text: 'y', providerMetadata: { gemini: { thoughtSignature: 'b' } } });
    expect(metadata.gemini.thoughtSignature).toBe('a');
    expect(builder.parts()).toEqual([{ type: 'text', text: 'xy', providerMetadata: { gemini: { thoughtSignature: 'b' } } }]);
  });
});

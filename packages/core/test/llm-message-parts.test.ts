import { describe, expect, it } from 'vitest';
import { messagePartSchema, messagePartsSchema, messageRoleSchema, partsText } from '@byok/core/llm';

describe('message parts', () => {
  it('accepts text, tool-call and tool-result parts', () => {
    const parts = [
      { type: 'text', text: 'Looking it up.' },
      { type: 'tool-call', toolCallId: 'call_1', toolName: 'search', args: { q: 'byok' } },
      { type: 'tool-result', toolCallId: 'call_1', toolName: 'search', result: [1, 2], isError: false },
    ];
    expect(messagePartsSchema.parse(parts)).toEqual(parts);
  });

  it('accepts reasoning parts and provider metadata on every part, and partsText leaves reasoning out', () => {
    const parts = [
      { type: 'reasoning', text: 'Plan first.', providerMetadata: { gemini: { thoughtSignature: 'c2ln' } } },
      { type: 'text', text: 'Answer', providerMetadata: { gemini: { thoughtSignature: 'dGV4dA' } } },
      { type: 'tool-call', toolCallId: 'c', toolName: 't', args: {}, providerMetadata: { gemini: { thoughtSignature: 'Y2FsbA' } } },
      { type: 'tool-result', toolCallId: 'c', toolName: 't', result: 1, providerMetadata: { openai: { any: ['thing'] } } },
    ];
    expect(messagePartsSchema.parse(parts)).toEqual(parts);
    expect(partsText(messagePartsSchema.parse(parts))).toBe('Answer');
  });

  it.each([
    { type: 'reasoning' },
    { type: 'text', text: 'x', providerMetadata: { gemini: 'not an object' } },
    { type: 'image', url: 'x' },
    { type: 'text' },
    { type: 'tool-call', toolCallId: '', toolName: 'a', args: {} },
    { type: 'tool-call', toolCallId: 'c', toolName: 'a', args: 'not an object' },
    { type: 'tool-result', toolCallId: 'c', result: 1 },
  ])('rejects %o', (part) => {
    expect(messagePartSchema.safeParse(part).success).toBe(false);
  });

  it('knows the four roles', () => {
    expect(messageRoleSchema.options).toEqual(['user', 'assistant', 'system', 'tool']);
    expect(messageRoleSchema.safeParse('model').success).toBe(false);
  });

  it('partsText joins text parts only', () => {
    expect(
      partsText([
        { type: 'text', text: 'a' },
        { type: 'tool-call', toolCallId: 'c', toolName: 't', args: {} },
        { type: 'text', text: 'b' },
      ]),
    ).toBe('ab');
  });
});

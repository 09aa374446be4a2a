import { z } from 'zod';

/**
 * The provider-neutral pieces a chat message is made of. Stored as JSON in
 * `chat_messages.parts` and translated by each {@link LlmProvider} into its own wire shape.
 */

/**
 * Opaque facts a provider attached to a part, keyed by provider id (e.g.
 * `{ gemini: { thoughtSignature: '...' } }`). Stored with the part and handed back to the
 * same provider on the next turn; other providers ignore it.
 */
export const providerMetadataSchema = z.record(z.string(), z.record(z.string(), z.unknown()));

/** Plain text. */
export const textPartSchema = z.object({
  type: z.literal('text'),
  text: z.string(),
  providerMetadata: providerMetadataSchema.optional(),
});

/** The model's reasoning (a thought summary), kept apart from the answer text. */
export const reasoningPartSchema = z.object({
  type: z.literal('reasoning'),
  text: z.string(),
  providerMetadata: providerMetadataSchema.optional(),
});

/** A model asking the host to call one of the tools it was offered. */
export const toolCallPartSchema = z.object({
  type: z.literal('tool-call'),
  /** Pairs the call with its result. Providers that have no ids get one generated. */
  toolCallId: z.string().min(1).max(200),
  toolName: z.string().min(1).max(200),
  /** The arguments, as a JSON object. */
  args: z.record(z.string(), z.unknown()),
  providerMetadata: providerMetadataSchema.optional(),
});

/** The host's answer to a tool call, sent back to the model in a `tool` message. */
export const toolResultPartSchema = z.object({
  type: z.literal('tool-result'),
  toolCallId: z.string().min(1).max(200),
  toolName: z.string().min(1).max(200),
  /** Any JSON value. */
  result: z.unknown(),
  isError: z.boolean().optional(),
  providerMetadata: providerMetadataSchema.optional(),
});

/** One part of a message: `text`, `reasoning`, `tool-call` or `tool-result`; each may carry `providerMetadata`. */
export const messagePartSchema = z.discriminatedUnion('type', [
  textPartSchema,
  reasoningPartSchema,
  toolCallPartSchema,
  toolResultPartSchema,
]);

/** The parts of one message, in order. */
export const messagePartsSchema = z.array(messagePartSchema);

export type ProviderMetadata = z.infer<typeof providerMetadataSchema>;
export type TextPart = z.infer<typeof textPartSchema>;
export type ReasoningPart = z.infer<typeof reasoningPartSchema>;
export type ToolCallPart = z.infer<typeof toolCallPartSchema>;
export type ToolResultPart = z.infer<typeof toolResultPartSchema>;
export type MessagePart = z.infer<typeof messagePartSchema>;

/** The roles a message can have, the same in storage and on the wire to a provider. */
export const messageRoleSchema = z.enum(['user', 'assistant', 'system', 'tool']);
export type MessageRole = z.infer<typeof messageRoleSchema>;

/**
 * The text of a message: its text parts joined, reasoning and tool parts left out.
 *
 * @example
 * partsText([{ type: 'text', text: 'Hello, ' }, { type: 'text', text: 'world' }]) // 'Hello, world'
 */
export function partsText(parts: readonly MessagePart[]): string {
  let out = '';
  for (const part of parts) if (part.type === 'text') out += part.text;
  return out;
}

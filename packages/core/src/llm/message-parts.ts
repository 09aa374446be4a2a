import { z } from 'zod';

/**
 * The provider-neutral pieces a chat message is made of. Stored as JSON in
 * `chat_messages.parts` and translated by each {@link LlmProvider} into its own wire shape.
 */

/** Plain text. */
export const textPartSchema = z.object({
  type: z.literal('text'),
  text: z.string(),
});

/** A model asking the host to call one of the tools it was offered. */
export const toolCallPartSchema = z.object({
  type: z.literal('tool-call'),
  /** Pairs the call with its result. Providers that have no ids get one generated. */
  toolCallId: z.string().min(1).max(200),
  toolName: z.string().min(1).max(200),
  /** The arguments, as a JSON object. */
  args: z.record(z.string(), z.unknown()),
});

/** The host's answer to a tool call, sent back to the model in a `tool` message. */
export const toolResultPartSchema = z.object({
  type: z.literal('tool-result'),
  toolCallId: z.string().min(1).max(200),
  toolName: z.string().min(1).max(200),
  /** Any JSON value. */
  result: z.unknown(),
  isError: z.boolean().optional(),
});

/** One part of a message: `text`, `tool-call` or `tool-result`. */
export const messagePartSchema = z.discriminatedUnion('type', [textPartSchema, toolCallPartSchema, toolResultPartSchema]);

/** The parts of one message, in order. */
export const messagePartsSchema = z.array(messagePartSchema);

export type TextPart = z.infer<typeof textPartSchema>;
export type ToolCallPart = z.infer<typeof toolCallPartSchema>;
export type ToolResultPart = z.infer<typeof toolResultPartSchema>;
export type MessagePart = z.infer<typeof messagePartSchema>;

/** The roles a message can have, the same in storage and on the wire to a provider. */
export const messageRoleSchema = z.enum(['user', 'assistant', 'system', 'tool']);
export type MessageRole = z.infer<typeof messageRoleSchema>;

/**
 * The text of a message: its text parts joined, tool parts left out.
 *
 * @example
 * partsText([{ type: 'text', text: 'Hello, ' }, { type: 'text', text: 'world' }]) // 'Hello, world'
 */
export function partsText(parts: readonly MessagePart[]): string {
  let out = '';
  for (const part of parts) if (part.type === 'text') out += part.text;
  return out;
}

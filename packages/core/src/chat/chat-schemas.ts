import { z } from 'zod';
import { ByokError } from '../errors';
import { messagePartsSchema, messageRoleSchema } from '../llm/message-parts';
import { pageInput } from '../util/cursor';

/**
 * The shapes chat memory takes in and gives out: what `ChatService` accepts (inputs are
 * parsed with these; a mismatch is `validation_failed`) and returns, and what the HTTP and
 * tRPC layers register as operation inputs and outputs.
 */

/** Most characters in one user message. */
export const MAX_MESSAGE_CHARS = 100_000;
/** Most characters in a session's system prompt. */
export const MAX_SYSTEM_PROMPT_CHARS = 50_000;

const id = z.string().min(1).max(64);
const providerId = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,31}$/, 'a configured provider id');
/** Model ids as the APIs spell them (`gemini-2.5-flash`, `meta-llama/Llama-3.3-70B`, `models/x`). */
const modelId = z.string().regex(/^[A-Za-z0-9][\x21-\x7e]{0,199}$/, 'a model id without spaces');
const title = z.string().trim().min(1).max(200);

/** Token counts of one reply, or the totals of a session or a user. */
export const chatUsageCountsSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  reasoningTokens: z.number().int().nonnegative(),
  cachedInputTokens: z.number().int().nonnegative(),
});

/** One conversation, as byok shows it. */
export const chatSessionSchema = z.object({
  id: z.string(),
  title: z.string().nullable(),
  provider: z.string(),
  model: z.string(),
  systemPrompt: z.string().nullable(),
  /** The leaf of the branch shown; null while the session is empty. */
  activeLeafId: z.string().nullable(),
  /** Totals over every reply of the session. */
  usage: chatUsageCountsSchema,
  createdAt: z.number(),
  /** Last activity: the order of the session list. */
  updatedAt: z.number(),
});
export type ChatSession = z.infer<typeof chatSessionSchema>;

/** What one reply cost and how it went, stored on the assistant message. */
export const replyUsageSchema = chatUsageCountsSchema.extend({
  totalTokens: z.number().int().nonnegative(),
  provider: z.string(),
  /** The model that answered, as the provider names it (or the session's model when none answered). */
  model: z.string(),
  /** Why the model stopped (of the last step); null when it never said (an error, a stop). */
  finishReason: z.enum(['stop', 'length', 'tool-calls', 'other']).nullable(),
  rawFinishReason: z.string().optional(),
  /** From the start of the reply to its first delta; null when none came. */
  timeToFirstTokenMs: z.number().nonnegative().nullable(),
  durationMs: z.number().nonnegative(),
  /** Provider calls the reply took (more than one when tools ran). */
  steps: z.number().int().nonnegative(),
});
export type ReplyUsage = z.infer<typeof replyUsageSchema>;

/** A message's place among its siblings (the other answers to the same parent). */
export const siblingsSchema = z.object({
  count: z.number().int().positive(),
  /** 0-based, in the order they were created. */
  index: z.number().int().nonnegative(),
  /** Every sibling's id, in that order: switch branch with one of them. */
  ids: z.array(z.string()),
});

/** One message, as byok shows it. */
export const chatMessageSchema = z.object({
  id: z.string(),
  sessionId: z.string(),
  parentId: z.string().nullable(),
  seq: z.number().int().positive(),
  role: messageRoleSchema,
  /** The plain-text projection of `parts`. */
  text: z.string(),
  parts: messagePartsSchema,
  status: z.enum(['complete', 'streaming', 'incomplete', 'error']),
  /** Why a reply ended as `error` (a ByokErrorCode), or `cancelled` / `aborted` / `lease_expired` for an `incomplete` one. */
  errorCode: z.string().nullable(),
  clientMessageId: z.string().nullable(),
  usage: replyUsageSchema.nullable(),
  siblings: siblingsSchema,
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type ChatMessage = z.infer<typeof chatMessageSchema>;

export const createSessionInput = z.object({
  provider: providerId,
  model: modelId,
  systemPrompt: z.string().max(MAX_SYSTEM_PROMPT_CHARS).optional(),
  title: title.optional(),
});
export type CreateSessionInput = z.input<typeof createSessionInput>;

export const renameSessionInput = z.object({ title: title.nullable() });
export type RenameSessionInput = z.input<typeof renameSessionInput>;

/** A new model for the session; with `provider`, also a new provider (its key answers from then on). */
export const changeModelInput = z.object({ model: modelId, provider: providerId.optional() });
export type ChangeModelInput = z.input<typeof changeModelInput>;

export const listSessionsInput = pageInput;

/**
 * The active path, a page at a time: `backward` (the default) starts at the newest message
 * and each next page holds older ones; `forward` starts at the first. Items are always in
 * `seq` order. The cursor pins the branch the first page was read from.
 */
export const listMessagesInput = pageInput.extend({ direction: z.enum(['backward', 'forward']).default('backward') });
export type ListMessagesInput = z.input<typeof listMessagesInput>;

export const switchBranchInput = z.object({ messageId: id });
export type SwitchBranchInput = z.input<typeof switchBranchInput>;

/** What a user says in a turn: plain text, or text parts (at least one character in all). */
export const turnInputSchema = z.union([
  z.object({ text: z.string().min(1).max(MAX_MESSAGE_CHARS) }).strict(),
  z.object({ parts: z.array(z.object({ type: z.literal('text'), text: z.string().max(MAX_MESSAGE_CHARS) }).strict()).min(1).max(100) }).strict(),
]);
export type TurnInput = z.input<typeof turnInputSchema>;

/** An idempotency key: printable, without spaces. */
export const clientMessageIdSchema = z.string().regex(/^[\x21-\x7e]{1,200}$/, '1–200 printable characters without spaces');

export const usageTotalsInput = z.object({
  /** Inclusive lower bound on a reply's creation time (epoch ms). */
  from: z.number().int().nonnegative().optional(),
  /** Exclusive upper bound. */
  to: z.number().int().nonnegative().optional(),
  sessionId: id.optional(),
});
export type UsageTotalsInput = z.input<typeof usageTotalsInput>;

export const usageTotalsSchema = chatUsageCountsSchema.extend({ replies: z.number().int().nonnegative() });
export type UsageTotals = z.infer<typeof usageTotalsSchema>;

/** The outcome of `chat.stop`. */
export const stopResultSchema = z.object({
  /** A live reply was found and asked to stop. */
  stopped: z.boolean(),
  /** The reply as stored after the stop (or as it is, when nothing was live); null when the session has none. */
  message: chatMessageSchema.nullable(),
});
export type StopResult = z.infer<typeof stopResultSchema>;

/** What a turn would send to the provider. */
export const contextPreviewSchema = z.object({
  provider: z.string(),
  model: z.string(),
  systemPrompt: z.string().nullable(),
  messages: z.array(z.object({ role: messageRoleSchema, parts: messagePartsSchema })),
  /** The stored messages the window was built from, oldest first. */
  messageIds: z.array(z.string()),
  estimatedTokens: z.number().int().nonnegative(),
  /** The token budget in force; null when none is known. */
  tokenBudget: z.number().int().positive().nullable(),
  maxMessages: z.number().int().positive(),
  /** Older messages of the path were left out. */
  truncated: z.boolean(),
});
export type ContextPreview = z.infer<typeof contextPreviewSchema>;

/** Parses `value` with `schema`; a mismatch is `validation_failed` naming the fields (never their values). */
export function parseChatInput<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || 'input'))].join(', ');
  throw new ByokError('validation_failed', `Invalid ${what} (${fields})`);
}

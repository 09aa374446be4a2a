import type { LlmMessage } from '../llm/llm-provider';
import type { MessagePart } from '../llm/message-parts';
import type { ChatMessageRow, ChatMessagesRepository } from '../store/chat-repositories';
import { replyToLlmMessages } from './reply-parts';

/** How much history a turn sends. */
export interface ContextWindowLimits {
  /** Most stored messages in the window. Default 100. */
  maxMessages?: number;
  /**
   * Most estimated tokens of the window (system prompt included). The model's
   * `inputTokenLimit`, when the provider reports it, caps it further.
   */
  tokenBudget?: number;
}

export const DEFAULT_MAX_CONTEXT_MESSAGES = 100;

/** Exactly what a turn sends to the provider, and where it came from. */
export interface ContextWindow {
  systemPrompt: string | null;
  messages: LlmMessage[];
  /** The stored messages in the window, oldest first. */
  messageIds: string[];
  /** Estimated tokens of the system prompt and the messages. */
  estimatedTokens: number;
  tokenBudget: number | null;
  maxMessages: number;
  /** Older messages of the path were left out. */
  truncated: boolean;
}

const CHARS_PER_TOKEN = 4;
/** Role and framing tokens every message costs. */
const MESSAGE_OVERHEAD = 4;

/**
 * A rough, provider-neutral token count of a message's content (about four characters a
 * token, plus framing), stored per message as `token_estimate` so a window is budgeted
 * without asking the provider.
 *
 * @example
 * estimateTokens([{ type: 'text', text: 'Hello there, how are you?' }]) // 11
 */
export function estimateTokens(parts: readonly MessagePart[]): number {
  let chars = 0;
  for (const part of parts) {
    if (part.type === 'text' || part.type === 'reasoning') chars += part.text.length;
    else if (part.type === 'tool-call') chars += part.toolName.length + JSON.stringify(part.args).length;
    else chars += part.toolName.length + (JSON.stringify(part.result ?? null)?.length ?? 0);
  }
  return Math.ceil(chars / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD;
}

/** The estimate of a system prompt. */
export function estimateTextTokens(text: string | null): number {
  return text ? Math.ceil(text.length / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD : 0;
}

/** The parts stored on a row (validated when written, so only parsed here). */
export function rowParts(row: Pick<ChatMessageRow, 'parts'>): MessagePart[] {
  return JSON.parse(row.parts) as MessagePart[];
}

/**
 * The provider messages of a stored message and the `tool` messages that follow it: a
 * reply becomes its steps; a call answered by one of those tool messages is paired with
 * that answer, any other open call with a cancelled result.
 */
function unitMessages(rows: readonly ChatMessageRow[]): LlmMessage[] {
  const [first, ...tools] = rows;
  const toolParts = tools.map((r) => rowParts(r));
  const answered = new Set(toolParts.flat().flatMap((p) => (p.type === 'tool-result' ? [p.toolCallId] : [])));
  const head: LlmMessage[] = first!.role === 'assistant' ? replyToLlmMessages(rowParts(first!), answered) : [{ role: first!.role, parts: rowParts(first!) }];
  return [...head, ...toolParts.map((parts): LlmMessage => ({ role: 'tool', parts }))];
}

interface Unit {
  rows: ChatMessageRow[];
  messages: LlmMessage[];
  tokens: number;
}

/**
 * Builds the window from the newest messages of the active path (`path`, in seq order,
 * ending with the newest): whole messages from the newest back while both limits hold,
 * the newest always (a turn is never sent without its own message). A `tool` message
 * stays with the reply before it, and a reply's calls and results are one message, so a
 * call and its result are kept or dropped together. A window never starts with a reply:
 * leading assistant or tool messages whose user message fell out are dropped too. The
 * system prompt is always kept and counts against the budget first.
 */
export function buildContextWindow(input: {
  path: readonly ChatMessageRow[];
  systemPrompt: string | null;
  maxMessages: number;
  tokenBudget: number | null;
}): ContextWindow {
  const units: Unit[] = [];
  for (const row of input.path) {
    if (row.status === 'streaming') continue;
    const parts = rowParts(row);
    if (parts.length === 0) continue;
    const last = units.at(-1);
    if (row.role === 'tool' && last !== undefined) {
      last.rows.push(row);
      last.tokens += row.tokenEstimate;
      last.messages = unitMessages(last.rows);
      continue;
    }
    units.push({ rows: [row], messages: unitMessages([row]), tokens: row.tokenEstimate });
  }
  let tokens = estimateTextTokens(input.systemPrompt);
  let count = 0;
  let first = units.length;
  while (first > 0) {
    const unit = units[first - 1]!;
    const taken = first < units.length;
    if (taken && (count + unit.rows.length > input.maxMessages || (input.tokenBudget !== null && tokens + unit.tokens > input.tokenBudget))) break;
    count += unit.rows.length;
    tokens += unit.tokens;
    first -= 1;
  }
  let truncated = first > 0;
  // The newest unit stays even when it does not start with a user message (a host's own path).
  while (first < units.length - 1 && units[first]!.rows[0]!.role !== 'user') {
    tokens -= units[first]!.tokens;
    first += 1;
    truncated = true;
  }
  const window = units.slice(first);
  return {
    systemPrompt: input.systemPrompt,
    messages: window.flatMap((u) => u.messages),
    messageIds: window.flatMap((u) => u.rows.map((r) => r.id)),
    estimatedTokens: tokens,
    tokenBudget: input.tokenBudget,
    maxMessages: input.maxMessages,
    truncated,
  };
}

/**
 * Reads as much of the active path ending at `leafId` as the limits can use (newest
 * first, a page at a time, only along that path: nothing of another branch or session)
 * and builds the window from it. `extra` rows (a message not stored yet, for a preview)
 * come after the path.
 */
export async function loadContextWindow(input: {
  messages: ChatMessagesRepository;
  userId: string;
  sessionId: string;
  leafId: string | null;
  systemPrompt: string | null;
  maxMessages: number;
  tokenBudget: number | null;
  extra?: ChatMessageRow[];
}): Promise<ContextWindow> {
  const path: ChatMessageRow[] = [];
  const extra = input.extra ?? [];
  let tokens = estimateTextTokens(input.systemPrompt) + extra.reduce((sum, r) => sum + r.tokenEstimate, 0);
  let count = extra.length;
  if (input.leafId !== null) {
    // The newest page first: below any seq.
    let beforeSeq = Number.MAX_SAFE_INTEGER;
    const pageSize = Math.min(100, input.maxMessages + 2);
    for (;;) {
      const page = await input.messages.path(input.userId, input.sessionId, {
        leafId: input.leafId,
        limit: pageSize,
        beforeSeq,
      });
      path.unshift(...page);
      for (const row of page) {
        count += 1;
        tokens += row.tokenEstimate;
      }
      // Once more than the limits hold is read, older messages cannot be in the window (a
      // window takes whole messages from the newest back).
      const full = count > input.maxMessages + 1 || (input.tokenBudget !== null && tokens > input.tokenBudget);
      if (page.length < pageSize || full) break;
      beforeSeq = page[0]!.seq;
    }
  }
  return buildContextWindow({ path: [...path, ...extra], systemPrompt: input.systemPrompt, maxMessages: input.maxMessages, tokenBudget: input.tokenBudget });
}

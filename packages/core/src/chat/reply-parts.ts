import type { LlmMessage } from '../llm/llm-provider';
import type { MessagePart, ToolCallPart, ToolResultPart } from '../llm/message-parts';

/**
 * How a reply is stored: one assistant row holds the whole reply, every step of it, in
 * order — reasoning, text, each tool call and, right after the calls of a step, their
 * results (`tool-result` parts on the same row). One row per reply keeps a reply's run,
 * lease, stop and usage in one place and makes an orphaned call impossible to store apart
 * from its result; the provider still gets the shape it wants, step by step
 * (see {@link replyToLlmMessages}).
 */

/** The result a tool call gets when its reply ended before the tool answered. */
export function cancelledResult(call: ToolCallPart, reason: 'cancelled' | 'aborted' | 'error' | 'lease_expired'): ToolResultPart {
  return {
    type: 'tool-result',
    toolCallId: call.toolCallId,
    toolName: call.toolName,
    result: { error: reason === 'error' ? 'The reply failed before the tool answered' : 'The tool call was cancelled', reason },
    isError: true,
  };
}

/**
 * The parts with a cancelled result added after each tool call that has none, so every
 * call is paired (a reply stopped, failed or recovered while a tool ran).
 */
export function closeOpenToolCalls(
  parts: readonly MessagePart[],
  reason: 'cancelled' | 'aborted' | 'error' | 'lease_expired',
  answeredElsewhere: ReadonlySet<string> = new Set(),
): MessagePart[] {
  const answered = new Set([...answeredElsewhere, ...parts.filter((p): p is ToolResultPart => p.type === 'tool-result').map((p) => p.toolCallId)]);
  const open = parts.filter((p): p is ToolCallPart => p.type === 'tool-call' && !answered.has(p.toolCallId));
  if (open.length === 0) return [...parts];
  const out = [...parts];
  // Each missing result goes right after the last call of its step, where a result belongs.
  for (const call of open) {
    let at = out.indexOf(call) + 1;
    while (at < out.length && (out[at]!.type === 'tool-call' || out[at]!.type === 'tool-result')) at += 1;
    out.splice(at, 0, cancelledResult(call, reason));
  }
  return out;
}

/** The calls of `parts` that have no result yet. */
export function openToolCalls(parts: readonly MessagePart[]): ToolCallPart[] {
  const answered = new Set(parts.filter((p): p is ToolResultPart => p.type === 'tool-result').map((p) => p.toolCallId));
  return parts.filter((p): p is ToolCallPart => p.type === 'tool-call' && !answered.has(p.toolCallId));
}

/**
 * A stored reply as the messages a provider expects: for each step an `assistant` message
 * (its reasoning, text and calls, provider metadata included) and then a `tool` message
 * with the step's results. Open calls get a cancelled result first, except those answered
 * elsewhere (a host's own `tool` message after the reply).
 */
export function replyToLlmMessages(parts: readonly MessagePart[], answeredElsewhere: ReadonlySet<string> = new Set()): LlmMessage[] {
  const out: LlmMessage[] = [];
  let assistant: MessagePart[] = [];
  let results: MessagePart[] = [];
  const flush = (): void => {
    if (assistant.length > 0) out.push({ role: 'assistant', parts: assistant });
    if (results.length > 0) out.push({ role: 'tool', parts: results });
    assistant = [];
    results = [];
  };
  for (const part of closeOpenToolCalls(parts, 'cancelled', answeredElsewhere)) {
    if (part.type === 'tool-result') {
      results.push(part);
      continue;
    }
    // Anything after a step's results starts the next step.
    if (results.length > 0) flush();
    assistant.push(part);
  }
  flush();
  return out;
}

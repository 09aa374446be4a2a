import { z } from 'zod';
import { ByokError, isByokError } from '../errors';
import type { ToolDefinition } from '../llm/llm-provider';
import type { ToolCallPart, ToolResultPart } from '../llm/message-parts';
import { sanitizeString } from '../util/sanitize';

/** What a tool's `execute` is told about the call. */
export interface ChatToolContext {
  userId: string;
  sessionId: string;
  /** The assistant reply the call belongs to. */
  messageId: string;
  toolCallId: string;
  /** Aborts when the reply is stopped (or the run ends otherwise): stop work then. */
  signal: AbortSignal;
}

/**
 * A host function the model may call during a turn. It runs on the server; its input is
 * checked against `inputSchema` first, and its result (any JSON value) is stored with the
 * reply and sent back to the model.
 *
 * @example
 * import { z } from 'zod';
 * const weather: ChatTool<z.ZodObject<{ city: z.ZodString }>> = {
 *   name: 'get_weather',
 *   description: 'The weather in a city now',
 *   inputSchema: z.object({ city: z.string() }),
 *   execute: async ({ city }) => ({ city, celsius: 21 }),
 * };
 */
export interface ChatTool<S extends z.ZodType = z.ZodType> {
  /** Letters, digits, `_` and `-`, starting with a letter or `_`; at most 64 characters. */
  name: string;
  description?: string;
  /** The input, as a zod schema (sent to the model as JSON Schema). */
  inputSchema: S;
  execute(input: z.output<S>, context: ChatToolContext): unknown;
}

const TOOL_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
/** Most tools one turn may offer. */
export const MAX_TOOLS = 64;

/**
 * The provider-neutral definitions of the host's tools (the input schema converted with
 * `z.toJSONSchema`). Refuses (`validation_failed`) a bad or repeated name, or a schema that
 * is not an object or cannot be expressed as JSON Schema.
 */
export function toolDefinitions(tools: readonly ChatTool[]): ToolDefinition[] {
  if (tools.length > MAX_TOOLS) throw new ByokError('validation_failed', `At most ${MAX_TOOLS} tools per turn`);
  const seen = new Set<string>();
  return tools.map((tool) => {
    if (typeof tool?.name !== 'string' || !TOOL_NAME.test(tool.name)) throw new ByokError('validation_failed', 'A tool name must be 1–64 letters, digits, _ or -');
    if (seen.has(tool.name)) throw new ByokError('validation_failed', `Two tools are named ${tool.name}`);
    seen.add(tool.name);
    if (typeof tool.execute !== 'function') throw new ByokError('validation_failed', `The tool ${tool.name} has no execute function`);
    let schema: Record<string, unknown>;
    try {
      schema = z.toJSONSchema(tool.inputSchema, { io: 'input' }) as Record<string, unknown>;
    } catch (cause) {
      throw new ByokError('validation_failed', `The input schema of ${tool.name} cannot be expressed as JSON Schema`, { cause });
    }
    if (schema.type !== 'object') throw new ByokError('validation_failed', `The input schema of ${tool.name} must be an object`);
    // The dialect marker means nothing to the model APIs; some refuse unknown keywords.
    const { $schema: _dialect, ...parameters } = schema;
    return { name: tool.name, ...(tool.description ? { description: tool.description } : {}), parameters };
  });
}

/**
 * Runs one call: unknown tools and inputs that fail the schema are error results the
 * model can read and correct; a throwing tool is an error result with its (sanitised)
 * message. A result is kept as JSON. The call is abandoned when `signal` aborts.
 */
export async function runToolCall(tools: readonly ChatTool[], call: ToolCallPart, context: ChatToolContext): Promise<ToolResultPart> {
  const base = { type: 'tool-result' as const, toolCallId: call.toolCallId, toolName: call.toolName };
  const tool = tools.find((t) => t.name === call.toolName);
  if (!tool) return { ...base, result: { error: `Unknown tool: ${call.toolName}` }, isError: true };
  const input = tool.inputSchema.safeParse(call.args);
  if (!input.success) {
    const problems = input.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
    return { ...base, result: { error: `Invalid input (${problems})` }, isError: true };
  }
  try {
    const value = await abortable(Promise.resolve().then(() => tool.execute(input.data, context)), context.signal);
    const text = JSON.stringify(value ?? null);
    return { ...base, result: text === undefined ? null : JSON.parse(text) };
  } catch (error) {
    if (context.signal.aborted) throw new ByokError('aborted', 'The tool call was cancelled');
    const message = isByokError(error) || error instanceof Error ? error.message : String(error);
    return { ...base, result: { error: sanitizeString(message).slice(0, 1_000) }, isError: true };
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new ByokError('aborted', 'The tool call was cancelled'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new ByokError('aborted', 'The tool call was cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

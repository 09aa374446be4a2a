import type { Content, FunctionDeclaration, GenerateContentConfig, GenerateContentResponse, Part } from '@google/genai';
import type { FinishReason, GenerateRequest, LlmMessage, StreamEvent, TokenUsage } from '@byok/core';
import type { ProviderFailure, ProviderMetadata } from '@byok/core/llm';
import { randomUUID } from 'node:crypto';

/** Finish reasons under which Gemini withheld the reply for safety or policy. */
const SAFETY_FINISH = new Set(['SAFETY', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT', 'RECITATION']);

/** Ids byok made up for calls Gemini sent without one; they are not sent back. */
const LOCAL_ID_PREFIX = 'gemini-call-';

/** The reply parts of one response, in order, as stream events. */
export type GeminiDelta = Extract<StreamEvent, { type: 'text-delta' | 'reasoning-delta' | 'tool-call' }>;

/**
 * Translates a provider-neutral request into `generateContent` parameters: `system`
 * messages join `systemPrompt` in the system instruction; `assistant` becomes `model`;
 * `tool` results become `functionResponse` parts of a `user` turn. A part's
 * `providerMetadata[provider].thoughtSignature` goes back on the Gemini part it came from
 * (Gemini 3 refuses a follow-up turn whose function calls lost theirs).
 */
export function toGeminiParams(request: GenerateRequest, provider = 'gemini'): { contents: Content[]; config: GenerateContentConfig } {
  const system: string[] = [];
  if (request.systemPrompt) system.push(request.systemPrompt);
  const contents: Content[] = [];
  for (const message of request.messages) {
    if (message.role === 'system') {
      const text = textOf(message);
      if (text) system.push(text);
      continue;
    }
    const parts = toParts(message, provider);
    if (parts.length === 0) continue;
    contents.push({ role: message.role === 'assistant' ? 'model' : 'user', parts });
  }
  const config: GenerateContentConfig = {};
  if (system.length > 0) config.systemInstruction = { parts: [{ text: system.join('\n\n') }] };
  if (request.temperature !== undefined) config.temperature = request.temperature;
  if (request.maxOutputTokens !== undefined) config.maxOutputTokens = request.maxOutputTokens;
  if (request.tools && request.tools.length > 0) {
    config.tools = [
      {
        functionDeclarations: request.tools.map(
          (tool): FunctionDeclaration => ({
            name: tool.name,
            ...(tool.description ? { description: tool.description } : {}),
            ...(tool.parameters ? { parametersJsonSchema: tool.parameters } : {}),
          }),
        ),
      },
    ];
  }
  return { contents, config };
}

function textOf(message: LlmMessage): string {
  return message.parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

function toParts(message: LlmMessage, provider: string): Part[] {
  const parts: Part[] = [];
  const fromModel = message.role === 'assistant';
  for (const part of message.parts) {
    const signature = fromModel ? signatureOf(part.providerMetadata, provider) : {};
    if (part.type === 'text') {
      if (part.text !== '' || signature.thoughtSignature) parts.push({ text: part.text, ...signature });
    } else if (part.type === 'reasoning') {
      // A thought summary goes back only to the model that wrote it, with its signature.
      if (fromModel && (part.text !== '' || signature.thoughtSignature)) parts.push({ text: part.text, thought: true, ...signature });
    } else if (part.type === 'tool-call') {
      parts.push({ functionCall: { name: part.toolName, args: part.args, ...remoteId(part.toolCallId) }, ...signature });
    } else {
      const result = part.result;
      const response =
        part.isError === true
          ? { error: result }
          : typeof result === 'object' && result !== null && !Array.isArray(result)
            ? (result as Record<string, unknown>)
            : { result };
      parts.push({ functionResponse: { name: part.toolName, response, ...remoteId(part.toolCallId) } });
    }
  }
  return parts;
}

function remoteId(id: string): { id?: string } {
  return id.startsWith(LOCAL_ID_PREFIX) ? {} : { id };
}

function signatureOf(metadata: ProviderMetadata | undefined, provider: string): { thoughtSignature?: string } {
  const signature = metadata?.[provider]?.thoughtSignature;
  return typeof signature === 'string' && signature !== '' ? { thoughtSignature: signature } : {};
}

function metadataOf(part: Part, provider: string): { providerMetadata?: ProviderMetadata } {
  return typeof part.thoughtSignature === 'string' && part.thoughtSignature !== ''
    ? { providerMetadata: { [provider]: { thoughtSignature: part.thoughtSignature } } }
    : {};
}

/** The pieces byok reads from one (possibly partial) response. */
export interface GeminiChunk {
  /** The reply's parts in the order Gemini sent them, each with its thought signature. */
  deltas: GeminiDelta[];
  rawFinishReason?: string;
  usage?: TokenUsage;
  model?: string;
  /** Set when the prompt or the reply was blocked. */
  blocked?: ProviderFailure;
}

/** Reads one `GenerateContentResponse` (a whole reply or one stream chunk). */
export function readResponse(provider: string, response: GenerateContentResponse): GeminiChunk {
  const out: GeminiChunk = { deltas: [] };
  if (response.modelVersion) out.model = response.modelVersion;
  const usage = response.usageMetadata;
  if (usage && (usage.candidatesTokenCount !== undefined || usage.totalTokenCount !== undefined)) {
    const inputTokens = usage.promptTokenCount ?? 0;
    const outputTokens = (usage.candidatesTokenCount ?? 0) + (usage.thoughtsTokenCount ?? 0);
    out.usage = {
      inputTokens,
      outputTokens,
      totalTokens: usage.totalTokenCount ?? inputTokens + outputTokens,
      ...(usage.thoughtsTokenCount !== undefined ? { reasoningTokens: usage.thoughtsTokenCount } : {}),
      ...(usage.cachedContentTokenCount !== undefined ? { cachedInputTokens: usage.cachedContentTokenCount } : {}),
    };
  }
  const blockReason = response.promptFeedback?.blockReason;
  if (blockReason) {
    out.blocked = {
      provider,
      kind: 'safety',
      providerCode: String(blockReason),
      message: `prompt blocked (${String(blockReason)})${response.promptFeedback?.blockReasonMessage ? `: ${response.promptFeedback.blockReasonMessage}` : ''}`,
    };
    return out;
  }
  const candidate = response.candidates?.[0];
  for (const part of candidate?.content?.parts ?? []) {
    const metadata = metadataOf(part, provider);
    if (part.functionCall?.name) {
      out.deltas.push({
        type: 'tool-call',
        toolCallId: part.functionCall.id ?? `${LOCAL_ID_PREFIX}${randomUUID()}`,
        toolName: part.functionCall.name,
        args: (part.functionCall.args ?? {}) as Record<string, unknown>,
        ...metadata,
      });
    } else if (part.thought === true) {
      out.deltas.push({ type: 'reasoning-delta', text: part.text ?? '', ...metadata });
    } else if (typeof part.text === 'string' || metadata.providerMetadata) {
      // A part may carry only a signature (an empty text part at the end of a step).
      out.deltas.push({ type: 'text-delta', text: part.text ?? '', ...metadata });
    }
  }
  if (candidate?.finishReason) {
    out.rawFinishReason = String(candidate.finishReason);
    if (SAFETY_FINISH.has(out.rawFinishReason)) {
      out.blocked = { provider, kind: 'safety', providerCode: out.rawFinishReason, message: `reply blocked (${out.rawFinishReason})` };
    }
  }
  return out;
}

/** Gemini's finish reason in neutral terms. */
export function finishReasonOf(raw: string | undefined, sawToolCalls: boolean): FinishReason {
  if (sawToolCalls && (raw === undefined || raw === 'STOP')) return 'tool-calls';
  if (raw === undefined || raw === 'STOP') return 'stop';
  if (raw === 'MAX_TOKENS') return 'length';
  return 'other';
}

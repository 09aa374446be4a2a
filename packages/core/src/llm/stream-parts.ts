import type { StreamEvent } from './llm-provider';
import type { MessagePart, ProviderMetadata } from './message-parts';

/**
 * Folds the events of `LlmProvider.stream` into the message parts of the reply, the same
 * parts `generate` returns: adjacent text (or reasoning) deltas join into one part, the
 * `providerMetadata` of a delta is merged into the part it extends, and each tool call is
 * a part of its own. Store `parts()` as the reply so the next turn sends the metadata back.
 *
 * @example
 * import { gemini } from '@byok/gemini';
 * const builder = new StreamPartsBuilder();
 * for await (const event of gemini().stream(apiKey, { messages: [{ role: 'user', parts: [{ type: 'text', text: 'Hi' }] }] })) builder.add(event);
 * const parts = builder.parts(); // the reply to store, provider metadata included
 */
export class StreamPartsBuilder {
  readonly #parts: MessagePart[] = [];

  /** Takes one event; `finish` adds nothing. */
  add(event: StreamEvent): void {
    if (event.type === 'text-delta' || event.type === 'reasoning-delta') {
      const type = event.type === 'text-delta' ? 'text' : 'reasoning';
      const last = this.#parts.at(-1);
      if (last !== undefined && last.type === type) {
        last.text += event.text;
        if (event.providerMetadata) last.providerMetadata = mergeMetadata(last.providerMetadata, event.providerMetadata);
        return;
      }
      this.#parts.push({ type, text: event.text, ...(event.providerMetadata ? { providerMetadata: copy(event.providerMetadata) } : {}) });
      return;
    }
    if (event.type === 'tool-call') {
      const { toolCallId, toolName, args, providerMetadata } = event;
      this.#parts.push({ type: 'tool-call', toolCallId, toolName, args, ...(providerMetadata ? { providerMetadata: copy(providerMetadata) } : {}) });
    }
  }

  /** The parts so far (a copy). Text parts that stayed empty and carry nothing are left out. */
  parts(): MessagePart[] {
    return this.#parts
      .filter((part) => !((part.type === 'text' || part.type === 'reasoning') && part.text === '' && part.providerMetadata === undefined))
      .map((part) => structuredClone(part));
  }
}

function copy(metadata: ProviderMetadata): ProviderMetadata {
  return structuredClone(metadata);
}

function mergeMetadata(into: ProviderMetadata | undefined, from: ProviderMetadata): ProviderMetadata {
  const out: ProviderMetadata = into ? { ...into } : {};
  for (const [provider, values] of Object.entries(from)) out[provider] = { ...(out[provider] ?? {}), ...structuredClone(values) };
  return out;
}

import type { ChatRequestOptions, ChatTransport, UIMessage, UIMessageChunk } from 'ai';
import type { ByokClient } from '../byok-client';

export interface ByokChatTransportOptions {
  /** The client whose auth (cookies or tokens, refresh) the transport uses. */
  client: ByokClient;
  /**
   * Also stop the reply on the server when `useChat` aborts (its `stop()`); default true.
   * Without it an abort only disconnects: byok keeps producing and storing the reply.
   */
  stopOnAbort?: boolean;
}

/**
 * A `ChatTransport` for the AI SDK's `useChat` (5.x and 6.x) over byok: the chat id is the
 * byok session id, the request carries byok's auth (refreshed on 401), only the last user
 * message is sent (the server's stored history is the truth), a dropped connection
 * resumes with `Last-Event-ID`, and `resume: true` reconnects to a reply still streaming.
 *
 * @example
 * import { createByokClient } from '@byok/client';
 * import { ByokChatTransport } from '@byok/client/ai';
 * const transport = new ByokChatTransport({ client: createByokClient({ baseUrl: '/api' }) });
 * // In a React component (@ai-sdk/react): useChat({ id: sessionId, transport, resume: true })
 */
export class ByokChatTransport<UI_MESSAGE extends UIMessage = UIMessage> implements ChatTransport<UI_MESSAGE> {
  readonly #client: ByokClient;
  readonly #stopOnAbort: boolean;

  constructor(options: ByokChatTransportOptions) {
    this.#client = options.client;
    this.#stopOnAbort = options.stopOnAbort ?? true;
  }

  async sendMessages(
    options: {
      trigger: 'submit-message' | 'regenerate-message';
      chatId: string;
      messageId: string | undefined;
      messages: UI_MESSAGE[];
      abortSignal: AbortSignal | undefined;
    } & ChatRequestOptions,
  ): Promise<ReadableStream<UIMessageChunk>> {
    const { chatId, trigger, messageId, abortSignal } = options;
    const last = options.messages.at(-1);
    const extra = typeof options.body === 'object' && options.body !== null ? options.body : {};
    if (abortSignal && this.#stopOnAbort) {
      abortSignal.addEventListener('abort', () => void this.#client.call('chat.stop', { sessionId: chatId }).catch(() => undefined), { once: true });
    }
    const stream = await this.#client.stream(
      'chat.messages.send',
      {
        ...extra,
        sessionId: chatId,
        id: chatId,
        trigger,
        messages: trigger === 'submit-message' && last ? [{ id: last.id, role: last.role, parts: last.parts as Array<{ type: string }> }] : [],
        ...(messageId !== undefined ? { messageId } : {}),
      },
      { ...(abortSignal ? { signal: abortSignal } : {}), headers: headersOf(options.headers) },
    );
    // The chunks are the AI SDK's own (v5 chunk types, which 5.x and 6.x both read).
    return stream as unknown as ReadableStream<UIMessageChunk>;
  }

  async reconnectToStream(options: { chatId: string } & ChatRequestOptions): Promise<ReadableStream<UIMessageChunk> | null> {
    const stream = await this.#client.resume({ sessionId: options.chatId }, { headers: headersOf(options.headers) });
    return stream as unknown as ReadableStream<UIMessageChunk> | null;
  }
}

function headersOf(headers: ChatRequestOptions['headers']): Record<string, string> {
  if (!headers) return {};
  if (headers instanceof Headers) return Object.fromEntries(headers.entries());
  return { ...headers };
}

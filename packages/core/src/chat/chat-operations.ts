import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ByokError, isByokError } from '../errors';
import { validationError } from '../http/http-handler';
import { defineOperation, type Operation, type OperationContext } from '../http/operation';
import type { AuthContext } from '../http/types';
import type { TextPart } from '../llm/message-parts';
import type { Store } from '../store/store';
import { pageInput, pageOutput } from '../util/cursor';
import type { ChatEvent } from './chat-events';
import {
  changeModelInput,
  chatMessageSchema,
  chatSessionSchema,
  clientMessageIdSchema,
  contextPreviewSchema,
  createSessionInput,
  listMessagesInput,
  renameSessionInput,
  stopResultSchema,
  turnInputSchema,
  usageTotalsSchema,
  type TurnInput,
} from './chat-schemas';
import type { ChatService } from './chat-service';
import { uiMessageStreamResponse } from './ui-message-stream';

/** What the chat operations are built from. */
export interface ChatOperationsOptions {
  chat: ChatService;
  /** Finds a user message by the id the client gave it (`useChat` edits name its own ids). */
  store: Store;
}

const id = z.string().min(1).max(64);
const sessionParam = z.object({ sessionId: id });
const messageParam = sessionParam.extend({ messageId: id });
const timeRange = {
  /** Inclusive lower bound on a reply's creation time (epoch ms). */
  from: z.coerce.number().int().nonnegative().optional(),
  /** Exclusive upper bound. */
  to: z.coerce.number().int().nonnegative().optional(),
};

/** A message of `useChat`'s history, as much of it as byok reads: only the last user message is taken. */
const uiMessageSchema = z.looseObject({
  id: z.string().max(200),
  role: z.enum(['user', 'assistant', 'system']),
  parts: z.array(z.looseObject({ type: z.string() })).max(1_000),
});

/** The body `useChat`'s `DefaultChatTransport` posts (extra `body` fields of the host are allowed and ignored). */
const useChatBody = z.looseObject({
  sessionId: id,
  id: z.string().max(200).optional(),
  messages: z.array(uiMessageSchema).max(10_000),
  trigger: z.enum(['submit-message', 'regenerate-message']),
  messageId: z.string().max(200).optional(),
});

/** byok's own body: the user's text (or text parts), an idempotency key, and optionally where to answer. */
const plainBody = z
  .object({
    sessionId: id,
    text: z.string().optional(),
    parts: z.array(z.unknown()).optional(),
    clientMessageId: z.string().optional(),
    /** Answer under this message instead of the active leaf (`null`: a new branch from the root). */
    parentId: id.nullable().optional(),
  })
  .strict();

const turnBody = z.object({ clientMessageId: z.string().optional() });

type Ctx<I> = OperationContext<I, AuthContext>;

/**
 * The HTTP operations of chat memory: sessions, the active path, branches, usage, and the
 * chat turn answered as the AI SDK's UI message stream, so `useChat` works with a stock
 * `DefaultChatTransport` given two settings:
 *
 * ```ts
 * new DefaultChatTransport({
 *   api: `/api/chat/sessions/${sessionId}/messages`,
 *   prepareReconnectToStreamRequest: ({ id }) => ({ api: `/api/chat/sessions/${id}/stream` }),
 * }) // with useChat({ id: sessionId, transport, resume: true })
 * ```
 *
 * The send route takes `useChat`'s body (`{ id, messages, trigger, messageId }`: only the
 * last user message is read, the stored history is the truth; `regenerate-message`
 * regenerates; a `messageId` on submit edits that message) or byok's own
 * `{ text | parts, clientMessageId?, parentId? }`. The `Idempotency-Key` header is the
 * client message id. Every route scopes by the caller: another user's session is 404.
 */
export function chatOperations(options: ChatOperationsOptions) {
  const { chat, store } = options;

  const turnOptions = (ctx: Ctx<unknown>, clientMessageId: string | undefined) => ({
    ...(clientMessageId !== undefined ? { clientMessageId } : {}),
    ...(ctx.request.signal ? { signal: ctx.request.signal } : {}),
    ip: ctx.meta.ip,
  });

  const stream = (events: AsyncIterable<ChatEvent>) => uiMessageStreamResponse({ events });

  /** A user message of the session by byok's id, or by the id its client gave it. */
  const userMessage = async (userId: string, sessionId: string, messageId: string) => {
    try {
      const found = await chat.getMessage(userId, sessionId, messageId);
      if (found.role === 'user') return found;
    } catch (error) {
      if (!isByokError(error) || error.code !== 'not_found') throw error;
    }
    await chat.getSession(userId, sessionId);
    const row = await store.chatMessages.findByClientMessageId(userId, sessionId, messageId);
    if (!row || row.role !== 'user') throw new ByokError('not_found', 'Message not found');
    return chat.getMessage(userId, sessionId, row.id);
  };

  async function sendUseChat(ctx: Ctx<unknown>, body: z.output<typeof useChatBody>) {
    const userId = ctx.auth.userId;
    const { sessionId } = body;
    if (body.id !== undefined && body.id !== sessionId) {
      throw new ByokError('validation_failed', 'Invalid input (id: useChat’s id must be the session id)', { details: { fields: ['id'] } });
    }
    const header = idempotencyKey(ctx);
    if (body.trigger === 'regenerate-message') {
      const target = body.messageId ?? (await chat.getSession(userId, sessionId)).activeLeafId;
      if (target === null) throw new ByokError('validation_failed', 'Invalid input (messageId: there is no reply to regenerate)', { details: { fields: ['messageId'] } });
      return stream(chat.regenerate(userId, sessionId, target, turnOptions(ctx, header)));
    }
    const last = body.messages.at(-1);
    if (!last || last.role !== 'user') {
      throw new ByokError('validation_failed', 'Invalid input (messages: the last message must be a user message)', { details: { fields: ['messages'] } });
    }
    const input = { parts: userTextParts(last.parts) };
    if (body.messageId === undefined) return stream(chat.send(userId, sessionId, input, turnOptions(ctx, header ?? clientId(last.id))));
    const target = await userMessage(userId, sessionId, body.messageId);
    // `sendMessage()` without a message re-submits the last one under its own id: the same text is that turn again.
    if (sameText(target.parts, input.parts)) {
      return stream(chat.send(userId, sessionId, input, turnOptions(ctx, header ?? target.clientMessageId ?? undefined)));
    }
    return stream(chat.edit(userId, sessionId, target.id, input, turnOptions(ctx, header ?? editKey(target.id, input.parts))));
  }

  async function sendPlain(ctx: Ctx<unknown>, body: z.output<typeof plainBody>) {
    const { sessionId, clientMessageId, parentId, ...rest } = body;
    const input = parseTurnInput(rest);
    const key = agreeingKey(idempotencyKey(ctx), clientMessageId);
    return stream(
      chat.send(ctx.auth.userId, sessionId, input, {
        ...turnOptions(ctx, key),
        ...(parentId !== undefined ? { parentId } : {}),
      }),
    );
  }

  return [
    defineOperation({
      kind: 'json',
      name: 'chat.sessions.create',
      summary: 'Start a conversation with a configured provider and one of its models',
      auth: 'required',
      input: createSessionInput.strict(),
      output: chatSessionSchema,
      http: { method: 'POST', path: '/chat/sessions', status: 201 },
      handler: ({ auth, input }) => chat.createSession(auth.userId, input),
    }),
    defineOperation({
      kind: 'json',
      name: 'chat.sessions.list',
      summary: 'The caller’s conversations, most recent activity first',
      auth: 'required',
      input: pageInput,
      output: pageOutput(chatSessionSchema),
      http: { method: 'GET', path: '/chat/sessions' },
      handler: ({ auth, input }) => chat.listSessions(auth.userId, input),
    }),
    defineOperation({
      kind: 'json',
      name: 'chat.sessions.get',
      summary: 'One conversation',
      auth: 'required',
      input: sessionParam,
      output: chatSessionSchema,
      http: { method: 'GET', path: '/chat/sessions/:sessionId' },
      handler: ({ auth, input }) => chat.getSession(auth.userId, input.sessionId),
    }),
    defineOperation({
      kind: 'json',
      name: 'chat.sessions.update',
      summary: 'Rename a conversation, or change its model (and provider) for the next turns',
      auth: 'required',
      input: sessionParam
        .extend({ title: renameSessionInput.shape.title.optional(), model: changeModelInput.shape.model.optional(), provider: changeModelInput.shape.provider })
        .strict()
        .refine((v) => v.title !== undefined || v.model !== undefined, { message: 'give a title or a model', path: ['title'] })
        .refine((v) => v.provider === undefined || v.model !== undefined, { message: 'a provider comes with a model', path: ['model'] }),
      output: chatSessionSchema,
      http: { method: 'PATCH', path: '/chat/sessions/:sessionId' },
      handler: async ({ auth, input }) => {
        let session = await chat.getSession(auth.userId, input.sessionId);
        if (input.model !== undefined) {
          session = await chat.changeModel(auth.userId, input.sessionId, { model: input.model, ...(input.provider !== undefined ? { provider: input.provider } : {}) });
        }
        if (input.title !== undefined) session = await chat.renameSession(auth.userId, input.sessionId, { title: input.title });
        return session;
      },
    }),
    defineOperation({
      kind: 'empty',
      name: 'chat.sessions.delete',
      summary: 'Delete a conversation with every message of it',
      auth: 'required',
      input: sessionParam,
      http: { method: 'DELETE', path: '/chat/sessions/:sessionId' },
      handler: ({ auth, input, meta }) => chat.deleteSession(auth.userId, input.sessionId, meta),
    }),
    defineOperation({
      kind: 'json',
      name: 'chat.sessions.usage',
      summary: 'Token totals of one conversation’s replies in a time range',
      auth: 'required',
      input: sessionParam.extend(timeRange),
      output: usageTotalsSchema,
      http: { method: 'GET', path: '/chat/sessions/:sessionId/usage' },
      handler: ({ auth, input }) => chat.usageTotals(auth.userId, input),
    }),
    defineOperation({
      kind: 'json',
      name: 'chat.usage',
      summary: 'Token totals of the caller’s replies in a time range (`from` inclusive, `to` exclusive, epoch ms)',
      auth: 'required',
      input: z.object(timeRange),
      output: usageTotalsSchema,
      http: { method: 'GET', path: '/chat/usage' },
      handler: ({ auth, input }) => chat.usageTotals(auth.userId, input),
    }),
    defineOperation({
      kind: 'json',
      name: 'chat.context.preview',
      summary: 'What the next turn would send to the provider',
      auth: 'required',
      input: sessionParam,
      output: contextPreviewSchema,
      http: { method: 'GET', path: '/chat/sessions/:sessionId/context' },
      handler: ({ auth, input }) => chat.previewContext(auth.userId, input.sessionId),
    }),
    defineOperation({
      kind: 'json',
      name: 'chat.messages.list',
      summary: 'The active path in seq order, a page at a time (backward from the newest by default), each message with its siblings',
      auth: 'required',
      input: sessionParam.extend(listMessagesInput.shape),
      output: pageOutput(chatMessageSchema),
      http: { method: 'GET', path: '/chat/sessions/:sessionId/messages' },
      handler: ({ auth, input }) => {
        const { sessionId, ...page } = input;
        return chat.listMessages(auth.userId, sessionId, page);
      },
    }),
    defineOperation({
      kind: 'json',
      name: 'chat.messages.get',
      summary: 'One message of a conversation',
      auth: 'required',
      input: messageParam,
      output: chatMessageSchema,
      http: { method: 'GET', path: '/chat/sessions/:sessionId/messages/:messageId' },
      handler: ({ auth, input }) => chat.getMessage(auth.userId, input.sessionId, input.messageId),
    }),
    defineOperation({
      kind: 'json',
      name: 'chat.branch.switch',
      summary: 'Show another branch: the newest conversation under this message (one of a message’s sibling ids)',
      auth: 'required',
      input: sessionParam.extend({ messageId: id }).strict(),
      output: chatSessionSchema,
      http: { method: 'POST', path: '/chat/sessions/:sessionId/branch' },
      handler: ({ auth, input }) => chat.switchBranch(auth.userId, input.sessionId, { messageId: input.messageId }),
    }),
    defineOperation({
      kind: 'raw',
      name: 'chat.messages.send',
      summary: 'Send a user message (useChat’s body or { text | parts, clientMessageId?, parentId? }); the reply streams as the AI SDK UI message stream',
      auth: 'required',
      produces: 'event-stream',
      input: z.union([useChatBody, plainBody]),
      http: { method: 'POST', path: '/chat/sessions/:sessionId/messages' },
      handler: (ctx) => ('messages' in ctx.input ? sendUseChat(ctx, ctx.input) : sendPlain(ctx, ctx.input)),
    }),
    defineOperation({
      kind: 'raw',
      name: 'chat.messages.edit',
      summary: 'Edit a user message: a new branch with this text and a new reply, streamed',
      auth: 'required',
      produces: 'event-stream',
      input: messageParam.extend({ text: z.string().optional(), parts: z.array(z.unknown()).optional(), clientMessageId: z.string().optional() }).strict(),
      http: { method: 'POST', path: '/chat/sessions/:sessionId/messages/:messageId/edit' },
      handler: (ctx) => {
        const { sessionId, messageId, clientMessageId, ...rest } = ctx.input;
        const key = agreeingKey(idempotencyKey(ctx), clientMessageId);
        return stream(chat.edit(ctx.auth.userId, sessionId, messageId, parseTurnInput(rest), turnOptions(ctx, key)));
      },
    }),
    defineOperation({
      kind: 'raw',
      name: 'chat.messages.regenerate',
      summary: 'A new answer in place of this reply (a sibling), streamed',
      auth: 'required',
      produces: 'event-stream',
      input: messageParam.extend(turnBody.shape).strict(),
      http: { method: 'POST', path: '/chat/sessions/:sessionId/messages/:messageId/regenerate' },
      handler: (ctx) => {
        const key = agreeingKey(idempotencyKey(ctx), ctx.input.clientMessageId);
        return stream(chat.regenerate(ctx.auth.userId, ctx.input.sessionId, ctx.input.messageId, turnOptions(ctx, key)));
      },
    }),
    defineOperation({
      kind: 'raw',
      name: 'chat.stream.resume',
      summary: 'Reconnect to the conversation’s live reply (204 when none streams); with Last-Event-ID, exactly the events after it',
      auth: 'required',
      produces: 'event-stream',
      input: sessionParam,
      http: { method: 'GET', path: '/chat/sessions/:sessionId/stream' },
      handler: async (ctx) => {
        const lastEventId = ctx.request.headers['last-event-id'];
        const events = await chat.resume(ctx.auth.userId, ctx.input.sessionId, {
          ...(lastEventId !== undefined && lastEventId.trim() !== '' ? { lastEventId } : {}),
          ...(ctx.request.signal ? { signal: ctx.request.signal } : {}),
        });
        if (events === null) return { status: 204 };
        return stream(events);
      },
    }),
    defineOperation({
      kind: 'json',
      name: 'chat.stop',
      summary: 'Stop the conversation’s live reply (or the reply messageId) on whichever instance produces it; it is stored incomplete',
      auth: 'required',
      input: sessionParam.extend({ messageId: id.optional() }).strict(),
      output: stopResultSchema,
      http: { method: 'POST', path: '/chat/sessions/:sessionId/stop' },
      handler: ({ auth, input }) => chat.stop(auth.userId, input.sessionId, input.messageId !== undefined ? { messageId: input.messageId } : {}),
    }),
  ] satisfies Operation[];
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

function parseTurnInput(value: { text?: string | undefined; parts?: unknown[] | undefined }): TurnInput {
  const input: Record<string, unknown> = {};
  if (value.text !== undefined) input.text = value.text;
  if (value.parts !== undefined) input.parts = value.parts;
  return parse(turnInputSchema, input);
}

/** The `Idempotency-Key` header, when the client sent one. */
function idempotencyKey(ctx: Ctx<unknown>): string | undefined {
  const value = ctx.request.headers['idempotency-key'];
  if (value === undefined) return undefined;
  return parse(clientMessageIdSchema, value.trim());
}

/** The header and the body name the same key, or only one of them does. */
function agreeingKey(header: string | undefined, body: string | undefined): string | undefined {
  if (header !== undefined && body !== undefined && header !== body) {
    throw new ByokError('validation_failed', 'Invalid input (clientMessageId: it differs from the Idempotency-Key header)', { details: { fields: ['clientMessageId'] } });
  }
  return header ?? body;
}

/** A `useChat` message id as an idempotency key (its ids are printable; anything else is refused). */
function clientId(value: string): string {
  return parse(clientMessageIdSchema, value);
}

/** The text of a `useChat` user message; files are not taken (byok stores text turns). */
function userTextParts(parts: ReadonlyArray<{ type: string; text?: unknown }>): TextPart[] {
  const texts: TextPart[] = [];
  for (const part of parts) {
    if (part.type === 'text') {
      if (typeof part.text !== 'string') throw new ByokError('validation_failed', 'Invalid input (messages: a text part without text)', { details: { fields: ['messages'] } });
      texts.push({ type: 'text', text: part.text });
    } else if (part.type === 'file') {
      throw new ByokError('validation_failed', 'Invalid input (messages: files are not accepted, only text)', { details: { fields: ['messages'] } });
    }
  }
  if (texts.length === 0) throw new ByokError('validation_failed', 'Invalid input (messages: the last user message has no text)', { details: { fields: ['messages'] } });
  return texts;
}

function sameText(stored: ReadonlyArray<{ type: string }>, parts: TextPart[]): boolean {
  const texts = stored.filter((p): p is TextPart => p.type === 'text').map((p) => p.text);
  return texts.length === parts.length && texts.every((text, i) => text === parts[i]!.text);
}

/** The idempotency key of a `useChat` edit: the same edit retried is the same turn. */
function editKey(messageId: string, parts: TextPart[]): string {
  return `edit-${createHash('sha256').update(JSON.stringify([messageId, parts.map((p) => p.text)])).digest('hex')}`;
}

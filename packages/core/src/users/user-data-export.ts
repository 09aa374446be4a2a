import { z } from 'zod';
import { auditEntrySchema } from '../audit/audit-operations';
import type { AuditEntry } from '../audit/audit-service';
import { ByokError } from '../errors';
import { NO_REQUEST_META } from '../http/request-meta';
import type { RequestMeta } from '../http/types';
import type { ChatMessageRow, ChatSessionRow } from '../store/chat-repositories';
import type { Store } from '../store/store';
import type { Clock } from '../util/clock';
import type { Page } from '../util/cursor';
import { keyStatusSchema } from '../vault/key-vault';
import { preferencesSchema } from './preferences-schema';
import { renderSessionMarkdown } from './session-markdown';
import { toUserProfile, userProfileSchema } from './user-profile';
import type { UsersAuditRecorder } from './users-service';

/** The slice of the audit service an export reads: the user's own trail, page by page. */
export interface AuditTrailReader {
  list(userId: string, options: { limit?: number; cursor?: string }): Promise<Page<AuditEntry>>;
}

/**
 * Opens a stored message's content: its plain text and its parts as JSON text. With
 * `memory.sealContent` the chat service supplies the one that unseals; by default the
 * columns are read as they are.
 */
export type ChatContentOpener = (row: ChatMessageRow) => Promise<{ text: string; parts: string }>;

/** What an export reads and records with. */
export interface UserDataExportDeps {
  store: Store;
  audit: UsersAuditRecorder & AuditTrailReader;
  clock: Clock;
  openChatContent?: ChatContentOpener;
}

const usageCountsSchema = z.object({
  inputTokens: z.number(),
  outputTokens: z.number(),
  reasoningTokens: z.number(),
  cachedInputTokens: z.number(),
});

/** One message of an exported session: every branch is there, the tree is `parentId`. */
export const exportedChatMessageSchema = z.object({
  id: z.string(),
  /** null for the first message of a branch from the root. */
  parentId: z.string().nullable(),
  seq: z.number(),
  role: z.enum(['user', 'assistant', 'system', 'tool']),
  text: z.string(),
  /** The provider-neutral parts (`text`, `reasoning`, `tool-call`, `tool-result`) with their provider metadata. */
  parts: z.array(z.looseObject({ type: z.string() })),
  status: z.enum(['complete', 'streaming', 'incomplete', 'error']),
  errorCode: z.string().nullable(),
  clientMessageId: z.string().nullable(),
  /** The reply's usage details (model, finish reason, time to first token, duration). */
  usage: z.record(z.string(), z.unknown()).nullable(),
  usageCounts: usageCountsSchema,
  tokenEstimate: z.number(),
  createdAt: z.number(),
  updatedAt: z.number(),
});

/** One exported chat session with all of its messages. */
export const exportedChatSessionSchema = z.object({
  id: z.string(),
  title: z.string().nullable(),
  provider: z.string(),
  model: z.string(),
  systemPrompt: z.string().nullable(),
  /** The leaf of the branch that was shown. */
  activeLeafId: z.string().nullable(),
  usage: usageCountsSchema,
  createdAt: z.number(),
  updatedAt: z.number(),
  messages: z.array(exportedChatMessageSchema),
});

/**
 * Everything byok keeps about one user, as `GET /me/export` answers it. Secrets are never
 * in it: provider keys appear as their status (provider, last 4, fingerprint), the issuers'
 * tokens as their dates, signed-in devices without their refresh tokens.
 */
export const userDataExportSchema = z.object({
  format: z.literal('byok.user-data'),
  version: z.literal(1),
  exportedAt: z.number(),
  profile: userProfileSchema,
  identities: z.array(
    z.object({
      id: z.string(),
      issuer: z.string(),
      subject: z.string(),
      email: z.string().nullable(),
      emailVerified: z.boolean(),
      createdAt: z.number(),
      lastLoginAt: z.number(),
    }),
  ),
  /** null when never set (the defaults apply). */
  preferences: preferencesSchema.nullable(),
  providerKeys: z.array(keyStatusSchema),
  /** Where the user is signed in (sessions neither revoked nor expired). */
  devices: z.array(
    z.object({
      id: z.string(),
      issuer: z.string().nullable(),
      createdAt: z.number(),
      lastUsedAt: z.number(),
      expiresAt: z.number(),
      userAgent: z.string().nullable(),
      ip: z.string().nullable(),
    }),
  ),
  /** The issuers' tokens byok holds for the user (sealed; only that they exist and their dates). */
  issuerTokens: z.array(
    z.object({
      issuer: z.string(),
      hasAccessToken: z.boolean(),
      hasRefreshToken: z.boolean(),
      expiresAt: z.number().nullable(),
      createdAt: z.number(),
      updatedAt: z.number(),
    }),
  ),
  chatSessions: z.array(exportedChatSessionSchema),
  /** The user's own audit trail, oldest first. */
  auditTrail: z.array(auditEntrySchema),
});
export type UserDataExport = z.infer<typeof userDataExportSchema>;
export type ExportedChatSession = z.infer<typeof exportedChatSessionSchema>;
export type ExportedChatMessage = z.infer<typeof exportedChatMessageSchema>;

const SESSION_PAGE = 100;
const MESSAGE_PAGE = 500;

/**
 * Gathers every row of the user's (each query scoped by their id), checks the document
 * against {@link userDataExportSchema} (which keeps only the fields it names, so no other
 * column can slip in) and records `user.exported` on the user's chain.
 */
export async function exportUserData(deps: UserDataExportDeps, userId: string, meta: RequestMeta = NO_REQUEST_META): Promise<UserDataExport> {
  const { store } = deps;
  const user = await store.users.get(userId);
  if (!user) throw new ByokError('not_found', 'User not found');
  const now = deps.clock.now();
  const identities = await store.users.listIdentities(userId);
  const preferences = await store.preferences.get(userId);
  const keys = await store.providerKeys.list(userId);
  const devices = await store.authSessions.listActive(userId, now);
  const issuerTokens = [];
  for (const issuer of new Set(identities.map((i) => i.issuer))) {
    const row = await store.oauthTokens.get(userId, issuer);
    if (row) {
      issuerTokens.push({
        issuer: row.issuer,
        hasAccessToken: row.accessTokenSealed !== null,
        hasRefreshToken: row.refreshTokenSealed !== null,
        expiresAt: row.expiresAt,
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
      });
    }
  }
  const chatSessions: ExportedChatSession[] = [];
  let messageCount = 0;
  for (let after: ChatSessionRow | undefined; ; ) {
    const page = await store.chatSessions.list(userId, { limit: SESSION_PAGE, ...(after ? { after: { updatedAt: after.updatedAt, id: after.id } } : {}) });
    for (const session of page) {
      const messages = await sessionMessages(deps, userId, session.id);
      messageCount += messages.length;
      chatSessions.push({ ...sessionFields(session), messages });
    }
    if (page.length < SESSION_PAGE) break;
    after = page[page.length - 1];
  }
  const auditTrail: AuditEntry[] = [];
  for (let cursor: string | null | undefined; cursor !== null; ) {
    const page = await deps.audit.list(userId, { limit: 100, ...(cursor ? { cursor } : {}) });
    auditTrail.push(...page.items);
    cursor = page.nextCursor;
  }
  auditTrail.reverse();

  const document = userDataExportSchema.parse({
    format: 'byok.user-data',
    version: 1,
    exportedAt: now,
    profile: toUserProfile(user),
    identities: identities.map((i) => ({
      id: i.id,
      issuer: i.issuer,
      subject: i.subject,
      email: i.email,
      emailVerified: i.emailVerified,
      createdAt: i.createdAt,
      lastLoginAt: i.lastLoginAt,
    })),
    preferences: preferences ? { theme: preferences.theme, language: preferences.language, timezone: preferences.timezone, updatedAt: preferences.updatedAt } : null,
    providerKeys: keys.map((k) => ({
      provider: k.provider,
      last4: k.last4,
      fingerprint: k.fingerprint,
      status: k.status,
      statusReason: k.statusReason,
      validatedAt: k.validatedAt,
      createdAt: k.createdAt,
      updatedAt: k.updatedAt,
    })),
    devices: devices.map((d) => ({
      id: d.id,
      issuer: d.issuer,
      createdAt: d.createdAt,
      lastUsedAt: d.lastUsedAt,
      expiresAt: d.expiresAt,
      userAgent: d.userAgent,
      ip: d.ip,
    })),
    issuerTokens,
    chatSessions,
    auditTrail,
  });
  await deps.audit.record({
    actorUserId: userId,
    action: 'user.exported',
    target: userId,
    outcome: 'success',
    metadata: { format: 'json', sessions: chatSessions.length, messages: messageCount, bytes: Buffer.byteLength(JSON.stringify(document)) },
    ...meta,
  });
  return document;
}

/**
 * One of the user's sessions as Markdown: its active path (the branch shown), oldest
 * first. Records `user.exported` (format `markdown`) on the user's chain. Another user's
 * session is `not_found`.
 */
export async function exportSessionMarkdown(deps: UserDataExportDeps, userId: string, sessionId: string, meta: RequestMeta = NO_REQUEST_META): Promise<string> {
  const session = await deps.store.chatSessions.get(userId, sessionId);
  if (!session) throw new ByokError('not_found', 'Chat session not found');
  const path: ExportedChatMessage[] = [];
  if (session.activeLeafId !== null) {
    for (let afterSeq = 0; ; ) {
      const page = await deps.store.chatMessages.path(userId, sessionId, { leafId: session.activeLeafId, afterSeq, limit: 100 });
      for (const row of page) path.push(await exportedMessage(deps, row));
      if (page.length < 100) break;
      afterSeq = page[page.length - 1]!.seq;
    }
  }
  const markdown = renderSessionMarkdown({ session: sessionFields(session), messages: path, exportedAt: deps.clock.now() });
  await deps.audit.record({
    actorUserId: userId,
    action: 'user.exported',
    target: sessionId,
    outcome: 'success',
    metadata: { format: 'markdown', sessionId, sessions: 1, messages: path.length, bytes: Buffer.byteLength(markdown) },
    ...meta,
  });
  return markdown;
}

function sessionFields(session: ChatSessionRow): Omit<ExportedChatSession, 'messages'> {
  return {
    id: session.id,
    title: session.title,
    provider: session.provider,
    model: session.model,
    systemPrompt: session.systemPrompt,
    activeLeafId: session.activeLeafId,
    usage: { ...session.usage },
    createdAt: session.createdAt,
    updatedAt: session.updatedAt,
  };
}

/** Every message of the session, every branch, in seq order. */
async function sessionMessages(deps: UserDataExportDeps, userId: string, sessionId: string): Promise<ExportedChatMessage[]> {
  const out: ExportedChatMessage[] = [];
  for (let afterSeq = 0; ; ) {
    const page = await deps.store.chatMaintenance.sessionMessages(userId, sessionId, { afterSeq, limit: MESSAGE_PAGE });
    for (const row of page) out.push(await exportedMessage(deps, row));
    if (page.length < MESSAGE_PAGE) return out;
    afterSeq = page[page.length - 1]!.seq;
  }
}

async function exportedMessage(deps: UserDataExportDeps, row: ChatMessageRow): Promise<ExportedChatMessage> {
  const content = deps.openChatContent ? await deps.openChatContent(row) : { text: row.text, parts: row.parts };
  return {
    id: row.id,
    parentId: row.parentId,
    seq: row.seq,
    role: row.role,
    text: content.text,
    parts: parseParts(content.parts),
    status: row.status,
    errorCode: row.errorCode,
    clientMessageId: row.clientMessageId,
    usage: parseObject(row.usage),
    usageCounts: { ...row.usageCounts },
    tokenEstimate: row.tokenEstimate,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** The stored parts as they are (every field kept, provider metadata included). */
function parseParts(text: string): ExportedChatMessage['parts'] {
  try {
    const value: unknown = JSON.parse(text);
    if (!Array.isArray(value)) return [];
    return value.filter((p): p is ExportedChatMessage['parts'][number] => p !== null && typeof p === 'object' && typeof (p as { type?: unknown }).type === 'string');
  } catch {
    return [];
  }
}

function parseObject(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

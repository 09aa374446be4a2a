import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByok, isByokError, localKms, oidc, type AuthService, type Byok } from '@byok/core';
import { nodeListener } from '@byok/core/http';
import { gemini } from '@byok/gemini';
import { createTestDatabase, selectTestBackends, startGeminiStandIn, type LlmStandIn, type TestDatabase } from '@byok/testing';
import type { ChatMessageRow, ChatSessionRow } from '../src/store/chat-repositories';
import type { Store } from '../src/store/store';
import { uuidv7 } from '../src/util/ids';

const MASTER = `1:${randomBytes(32).toString('base64')}`;
const ISSUER = 'http://127.0.0.1:9/issuer';
const APP = 'http://app.example';
// Canary secrets: none of them may ever appear in an export.
const KEY_A = `AIzaSyCANARYalice${randomBytes(12).toString('hex')}`;
const KEY_B = `AIzaSyCANARYbob${randomBytes(13).toString('hex')}`;
const ISSUER_TOKEN_A = `issuer-refresh-canary-alice-${randomBytes(8).toString('hex')}`;
const ISSUER_TOKEN_B = `issuer-refresh-canary-bob-${randomBytes(8).toString('hex')}`;

interface Seeded {
  userId: string;
  subject: string;
  email: string;
  ip: string;
  userAgent: string;
  marker: string;
  accessToken: string;
  refreshToken: string;
  authSessionId: string;
  sessionIds: string[];
  messageIds: string[];
  /** Session 1: the branch shown, and the messages of the other branches. */
  activePath: string[];
  offPath: string[];
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (e) {
    return isByokError(e) ? e.code : 'not-byok';
  }
}

function sessionRow(userId: string, at: number, fields: Partial<ChatSessionRow> = {}): ChatSessionRow {
  return {
    id: uuidv7(at),
    userId,
    title: null,
    provider: 'gemini',
    model: 'gemini-2.5-flash',
    systemPrompt: null,
    activeLeafId: null,
    lastSeq: 0,
    usage: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 },
    createdAt: at,
    updatedAt: at,
    ...fields,
  };
}

async function append(
  store: Store,
  session: ChatSessionRow,
  at: number,
  fields: Pick<ChatMessageRow, 'role' | 'text'> & Partial<ChatMessageRow>,
  activate = true,
): Promise<ChatMessageRow> {
  const row = await store.chatMessages.append(
    session.userId,
    session.id,
    (seq) => ({
      id: uuidv7(at),
      sessionId: session.id,
      userId: session.userId,
      parentId: null,
      seq,
      parts: JSON.stringify([{ type: 'text', text: fields.text }]),
      status: 'complete',
      errorCode: null,
      clientMessageId: null,
      inputHash: null,
      runId: null,
      leaseExpiresAt: null,
      stopRequestedAt: null,
      usage: null,
      usageCounts: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 },
      tokenEstimate: Math.ceil(fields.text.length / 4),
      createdAt: at,
      updatedAt: at,
      ...fields,
    }),
    { activate },
  );
  if (!row) throw new Error('append refused');
  return row;
}

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('user data export and delete on %s', (kind) => {
  let db: TestDatabase | undefined;
  let standIn: LlmStandIn;
  let byok: Byok<AuthService>;
  let a: Seeded;
  let b: Seeded;
  let c: Seeded;

  async function seed(name: string, key: string, issuerToken: string, ip: string): Promise<Seeded> {
    const tag = `${name}-${randomBytes(3).toString('hex')}`;
    const subject = `subject-${tag}`;
    const email = `${tag}@example.test`;
    const userAgent = `${name}-Agent/1.0`;
    const marker = `MARKER-${tag.toUpperCase()}`;
    const meta = { ip, userAgent };
    const { user } = await byok.users.findOrCreate({ issuer: ISSUER, subject, email, emailVerified: true, name: `${name} ${marker}` }, meta);
    await byok.users.updatePreferences(user.id, { theme: 'dark', language: 'de', timezone: 'Europe/Berlin' }, meta);
    await byok.keyVault.setKey(user.id, 'gemini', key, meta);
    const tokens = await byok.auth.createSession(user.id, meta);
    const recordId = uuidv7();
    const sealed = await byok.sealer.seal(issuerToken, { purpose: 'oauth_token', userId: user.id, tokenKind: 'refresh', recordId });
    await byok.store.oauthTokens.put({
      id: recordId,
      userId: user.id,
      issuer: ISSUER,
      accessTokenSealed: null,
      refreshTokenSealed: sealed.toString('base64url'),
      expiresAt: Date.now() + 3_600_000,
      createdAt: Date.now(),
      updatedAt: Date.now(),
    });

    // Session 1: a first question and reply, then the question edited (a sibling branch)
    // with a reply that was regenerated once; the regenerated reply is shown.
    const t = Date.now();
    const s1 = sessionRow(user.id, t, { title: `Tides ${marker}`, systemPrompt: `Be brief ${marker}` });
    await byok.store.chatSessions.insert(s1);
    const u1 = await append(byok.store, s1, t + 1, { role: 'user', text: `first question ${marker}` });
    const a1 = await append(byok.store, s1, t + 2, { role: 'assistant', text: `first answer ${marker}`, parentId: u1.id, usage: JSON.stringify({ model: 'gemini-2.5-flash', finishReason: 'stop' }), usageCounts: { inputTokens: 10, outputTokens: 20, reasoningTokens: 3, cachedInputTokens: 1 } });
    const u2 = await append(byok.store, s1, t + 3, { role: 'user', text: `edited question ${marker}` });
    const a2 = await append(byok.store, s1, t + 4, { role: 'assistant', text: `answer to the edit ${marker}`, parentId: u2.id });
    const a3 = await append(byok.store, s1, t + 5, {
      role: 'assistant',
      text: `regenerated answer ${marker}`,
      parentId: u2.id,
      parts: JSON.stringify([
        { type: 'reasoning', text: `thinking ${marker}`, providerMetadata: { gemini: { thoughtSignature: `sig-${tag}` } } },
        { type: 'tool-call', toolCallId: 'call-1', toolName: 'lookup_tides', args: { place: 'Brest' }, providerMetadata: { gemini: { thoughtSignature: `sig2-${tag}` } } },
        { type: 'text', text: `regenerated answer ${marker}` },
      ]),
    });
    // Session 2: one exchange, the reply stopped half way.
    const s2 = sessionRow(user.id, t + 10);
    await byok.store.chatSessions.insert(s2);
    const u3 = await append(byok.store, s2, t + 11, { role: 'user', text: `second chat ${marker}` });
    const a4 = await append(byok.store, s2, t + 12, { role: 'assistant', text: `half a reply ${marker}`, parentId: u3.id, status: 'incomplete', errorCode: 'cancelled' });
    return {
      userId: user.id,
      subject,
      email,
      ip,
      userAgent,
      marker,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      authSessionId: tokens.sessionId,
      sessionIds: [s1.id, s2.id],
      messageIds: [u1.id, a1.id, u2.id, a2.id, a3.id, u3.id, a4.id],
      activePath: [u2.id, a3.id],
      offPath: [u1.id, a1.id, a2.id],
    };
  }

  /** Every row of a user, read straight from the store. */
  async function rowsOf(userId: string, s: Seeded) {
    const store = byok.store;
    const sessions = await store.chatSessions.list(userId, { limit: 100 });
    const messages = [];
    for (const session of sessions) messages.push(...(await store.chatMaintenance.sessionMessages(userId, session.id, { afterSeq: 0, limit: 1000 })));
    const trail = await byok.audit.list(userId, { limit: 100 });
    return {
      user: await store.users.get(userId),
      identities: await store.users.listIdentities(userId),
      preferences: await store.preferences.get(userId),
      keys: await store.providerKeys.list(userId),
      authSession: await store.authSessions.findById(s.authSessionId),
      issuerTokens: await store.oauthTokens.get(userId, ISSUER),
      sessions,
      messages,
      trail: trail.items,
      salt: await store.audit.hasSalt(userId),
    };
  }

  beforeAll(async () => {
    standIn = await startGeminiStandIn({ keys: [KEY_A, KEY_B] });
    db = kind === 'memory' ? undefined : await createTestDatabase(kind);
    byok = await createByok({
      database: db ? db.config : { memory: true },
      kms: localKms({ keys: MASTER }),
      providers: [gemini({ baseUrl: standIn.url })],
      auth: {
        issuers: [oidc({ id: 'dev', issuer: ISSUER, clientId: 'byok', clientSecret: 'byok-secret', development: true })],
        baseUrl: 'http://127.0.0.1:4999',
        allowedOrigins: [APP],
        cookieSecret: randomBytes(32).toString('hex'),
      },
    });
    a = await seed('Alice', KEY_A, ISSUER_TOKEN_A, '203.0.113.10');
    b = await seed('Bob', KEY_B, ISSUER_TOKEN_B, '198.51.100.20');
  });
  afterAll(async () => {
    await byok?.close();
    await standIn?.close();
    await db?.drop();
  });

  it('exports every row of the user: profile, identities, preferences, key status, devices, issuer tokens, every branch, the audit trail', async () => {
    const trailBefore = await byok.audit.list(a.userId, { limit: 100 });
    const data = await byok.users.exportUserData(a.userId);

    expect(data).toMatchObject({ format: 'byok.user-data', version: 1 });
    expect(data.profile).toMatchObject({ id: a.userId, email: a.email, emailVerified: true, name: expect.stringContaining(a.marker) });
    expect(data.identities).toEqual([expect.objectContaining({ issuer: ISSUER, subject: a.subject, email: a.email, emailVerified: true })]);
    expect(data.preferences).toMatchObject({ theme: 'dark', language: 'de', timezone: 'Europe/Berlin' });
    const status = await byok.keyVault.getStatus(a.userId, 'gemini');
    expect(data.providerKeys).toEqual([status]);
    expect(Object.keys(data.providerKeys[0]!).sort()).toEqual(['createdAt', 'fingerprint', 'last4', 'provider', 'status', 'statusReason', 'updatedAt', 'validatedAt']);
    expect(data.devices).toEqual([expect.objectContaining({ id: a.authSessionId, ip: a.ip, userAgent: a.userAgent })]);
    expect(data.issuerTokens).toEqual([expect.objectContaining({ issuer: ISSUER, hasRefreshToken: true, hasAccessToken: false })]);

    // Every message of every branch, the tree by parentId, with seq, status and usage.
    expect(data.chatSessions.map((s) => s.id).sort()).toEqual([...a.sessionIds].sort());
    const messages = data.chatSessions.flatMap((s) => s.messages);
    expect(messages.map((m) => m.id).sort()).toEqual([...a.messageIds].sort());
    const s1 = data.chatSessions.find((s) => s.id === a.sessionIds[0])!;
    expect(s1).toMatchObject({ title: expect.stringContaining(a.marker), systemPrompt: expect.stringContaining(a.marker), activeLeafId: a.activePath[1] });
    expect(s1.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    const byId = new Map(messages.map((m) => [m.id, m]));
    expect(byId.get(a.messageIds[1]!)).toMatchObject({
      role: 'assistant',
      parentId: a.messageIds[0],
      status: 'complete',
      usage: { model: 'gemini-2.5-flash', finishReason: 'stop' },
      usageCounts: { inputTokens: 10, outputTokens: 20, reasoningTokens: 3, cachedInputTokens: 1 },
    });
    expect(byId.get(a.messageIds[3]!)!.parentId).toBe(a.messageIds[2]);
    expect(byId.get(a.messageIds[4]!)!.parentId).toBe(a.messageIds[2]);
    expect(byId.get(a.messageIds[4]!)!.parts).toEqual([
      expect.objectContaining({ type: 'reasoning', providerMetadata: { gemini: { thoughtSignature: expect.stringMatching(/^sig-/) } } }),
      expect.objectContaining({ type: 'tool-call', toolName: 'lookup_tides', args: { place: 'Brest' } }),
      expect.objectContaining({ type: 'text' }),
    ]);
    expect(byId.get(a.messageIds[6]!)).toMatchObject({ status: 'incomplete', errorCode: 'cancelled' });

    // The user's own trail, oldest first, with their ip on their own rows.
    expect(data.auditTrail.map((e) => e.id)).toEqual(trailBefore.items.map((e) => e.id).reverse());
    expect(data.auditTrail.map((e) => e.action)).toEqual(expect.arrayContaining(['user.created', 'preferences.updated', 'key.set', 'auth.login.succeeded'].filter((x) => trailBefore.items.some((e) => e.action === x))));
    expect(data.auditTrail.find((e) => e.action === 'key.set')).toMatchObject({ ip: a.ip, userAgent: a.userAgent });

    // The export itself is audited on the user's chain, counts only.
    const after = await byok.audit.list(a.userId, { limit: 1 });
    expect(after.items[0]).toMatchObject({ action: 'user.exported', target: a.userId, metadata: { format: 'json', sessions: 2, messages: 7, bytes: expect.any(Number) } });
  });

  it('exports nothing of another user, who has real rows of every kind', async () => {
    const text = JSON.stringify(await byok.users.exportUserData(a.userId));
    const bKey = await byok.keyVault.getStatus(b.userId, 'gemini');
    const bRows = await rowsOf(b.userId, b);
    expect(bRows.sessions).toHaveLength(2);
    expect(bRows.messages).toHaveLength(7);
    expect(bRows.issuerTokens).toBeDefined();
    for (const value of [b.userId, b.subject, b.email, b.marker, b.ip, b.userAgent, b.authSessionId, bKey.fingerprint, ...b.sessionIds, ...b.messageIds]) {
      expect(text, value).not.toContain(value);
    }
  });

  it('exports no secret: neither API key, refresh token, issuer token, sealed value nor hash', async () => {
    const text = JSON.stringify(await byok.users.exportUserData(a.userId));
    const key = await byok.store.providerKeys.get(a.userId, 'gemini');
    const issuerTokens = await byok.store.oauthTokens.get(a.userId, ISSUER);
    const session = await byok.store.authSessions.findById(a.authSessionId);
    const refreshSecret = a.refreshToken.slice(a.refreshToken.indexOf('.') + 1);
    const secrets = [KEY_A, KEY_B, a.refreshToken, refreshSecret, a.accessToken, ISSUER_TOKEN_A, key!.sealed, key!.sealed.slice(0, 40), issuerTokens!.refreshTokenSealed!, session!.refreshHash];
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/"sealed"|refreshHash|"kek"/);
  });

  it('exports one session as Markdown, the branch shown only; another user’s session is not found', async () => {
    const markdown = await byok.users.exportSessionMarkdown(a.userId, a.sessionIds[0]!);
    expect(markdown).toMatch(new RegExp(`^# Tides ${a.marker}\\n`));
    expect(markdown).toContain('- Model: gemini / gemini-2.5-flash');
    expect(markdown).toContain(`## System prompt\n\nBe brief ${a.marker}`);
    expect(markdown).toContain(`## User\n\nedited question ${a.marker}`);
    expect(markdown).toContain(`## Assistant\n\n<details>\n<summary>Reasoning</summary>\n\nthinking ${a.marker}`);
    expect(markdown).toContain('**Tool call** `lookup_tides`\n\n```json\n{\n  "place": "Brest"\n}\n```');
    expect(markdown).toContain(`regenerated answer ${a.marker}`);
    for (const text of ['first question', 'first answer', 'answer to the edit']) expect(markdown).not.toContain(text);
    expect(markdown).not.toContain('sig-');

    const stopped = await byok.users.exportSessionMarkdown(a.userId, a.sessionIds[1]!);
    expect(stopped).toContain('# Untitled chat');
    expect(stopped).toContain('_(This reply was stopped before it finished.)_');

    expect(await codeOf(byok.users.exportSessionMarkdown(b.userId, a.sessionIds[0]!))).toBe('not_found');
    expect(await codeOf(byok.users.exportSessionMarkdown(a.userId, b.sessionIds[0]!))).toBe('not_found');
    const trail = await byok.audit.list(a.userId, { limit: 1 });
    expect(trail.items[0]).toMatchObject({ action: 'user.exported', target: a.sessionIds[1], metadata: { format: 'markdown', sessionId: a.sessionIds[1], messages: 2 } });
  });

  it('serves GET /me/export (JSON, attachment) and GET /chat/sessions/:id/export.md (text/markdown) for the caller only', async () => {
    const as = (s: Seeded) => ({ authorization: `Bearer ${s.accessToken}` });
    const get = (path: string, s: Seeded) => byok.http.handle({ method: 'GET', url: path, headers: as(s), remoteAddress: '203.0.113.10' });
    const exported = await get('/me/export', a);
    expect(exported.status).toBe(200);
    expect(exported.headers['content-disposition']).toMatch(/^attachment; filename="byok-export-\d{4}-\d{2}-\d{2}\.json"$/);
    expect((exported.body as { profile: { id: string } }).profile.id).toBe(a.userId);
    expect(JSON.stringify(exported.body)).not.toContain(b.marker);

    const md = await get(`/chat/sessions/${a.sessionIds[0]}/export.md`, a);
    expect(md.status).toBe(200);
    expect(md.headers['content-type']).toBe('text/markdown; charset=utf-8');
    expect(md.text).toContain(`regenerated answer ${a.marker}`);
    const foreign = await get(`/chat/sessions/${a.sessionIds[0]}/export.md`, b);
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    expect(JSON.stringify(foreign)).not.toContain(a.marker);

    const doc = (await byok.http.handle({ method: 'GET', url: '/openapi.json', headers: {}, remoteAddress: '127.0.0.1' })).body as { paths: Record<string, any> };
    expect(Object.keys(doc.paths['/chat/sessions/{sessionId}/export.md'].get.responses['200'].content)).toEqual(['text/markdown']);
    expect(doc.paths['/me'].delete.operationId).toBe('me.delete');
    expect(doc.paths['/me/export'].get.responses['200'].content['application/json'].schema.properties.chatSessions).toBeDefined();
  });

  if (kind === 'memory') {
    it('writes the Markdown export over a real node:http server with its content type', async () => {
      const server: Server = createServer(nodeListener(byok.http));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const res = await fetch(`${base}/chat/sessions/${a.sessionIds[0]}/export.md`, { headers: { authorization: `Bearer ${a.accessToken}` } });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('text/markdown; charset=utf-8');
        expect(res.headers.get('content-disposition')).toBe(`attachment; filename="chat-${a.sessionIds[0]}.md"`);
        const body = await res.text();
        const withoutDate = (md: string) => md.replace(/^- Exported: .*$/m, '');
        expect(withoutDate(body)).toBe(withoutDate(await byok.users.exportSessionMarkdown(a.userId, a.sessionIds[0]!)));
        expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(body));
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });
  }

  it('deletes every row of the user, erases their audit personal data and salt, audits on the system chain, and leaves the other user untouched', async () => {
    const bBefore = await rowsOf(b.userId, b);
    const aPersonal = (await byok.audit.list(a.userId, { limit: 100 })).items.filter((e) => e.ip !== null);
    expect(aPersonal.length).toBeGreaterThan(0);

    const removed = await byok.users.deleteUserData(a.userId);
    expect(removed).toEqual({ sessions: 2, messages: 7, providerKeys: 1 });

    const aAfter = await rowsOf(a.userId, a);
    expect(aAfter).toMatchObject({ user: undefined, identities: [], preferences: undefined, keys: [], authSession: undefined, issuerTokens: undefined, sessions: [], messages: [], salt: false });
    expect(await byok.store.users.findByIdentity(ISSUER, a.subject)).toBeUndefined();
    for (const id of a.messageIds) expect(await byok.store.chatMessages.get(a.userId, id)).toBeUndefined();
    expect(await byok.store.chatMaintenance.countForUser(a.userId)).toEqual({ sessions: 0, messages: 0 });
    expect(await byok.store.audit.personal(aPersonal.map((e) => e.id))).toEqual([]);
    expect(aAfter.trail.every((e) => e.ip === null && e.userAgent === null)).toBe(true);
    expect(await codeOf(byok.keyVault.withKey(a.userId, 'gemini', (k) => k))).toBe('key_missing');

    const [deletion] = await byok.store.audit.list({ chain: 'system', actions: ['user.deleted'], limit: 10 });
    expect(deletion).toMatchObject({ actorUserId: null, target: a.userId, personalHmac: null });
    expect(JSON.parse(deletion!.metadata)).toEqual({ by: 'self', sessions: 2, messages: 7, providerKeys: 1 });
    expect((await byok.audit.verify()).ok).toBe(true);

    expect(await rowsOf(b.userId, b)).toEqual(bBefore);
    expect(await byok.keyVault.withKey(b.userId, 'gemini', (k) => k)).toBe(KEY_B);
    expect(await codeOf(byok.users.deleteUserData(a.userId))).toBe('not_found');
    expect(await codeOf(byok.users.exportUserData(a.userId))).toBe('not_found');
  });

  it('deletes the caller over DELETE /me (CSRF-checked like every unsafe call) and nobody else', async () => {
    c = await seed('Carol', KEY_B, `issuer-refresh-canary-carol-${randomBytes(8).toString('hex')}`, '192.0.2.30');
    const bBefore = await rowsOf(b.userId, b);
    const del = (headers: Record<string, string>) => byok.http.handle({ method: 'DELETE', url: '/me', headers, remoteAddress: '192.0.2.30' });
    expect((await del({ authorization: `Bearer ${c.accessToken}` })).status).toBe(204);
    expect(await byok.store.users.get(c.userId)).toBeUndefined();
    expect(await byok.store.chatMaintenance.countForUser(c.userId)).toEqual({ sessions: 0, messages: 0 });
    const gone = await byok.http.handle({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${c.accessToken}` }, remoteAddress: '192.0.2.30' });
    expect(gone.status).toBe(404);
    expect(await rowsOf(b.userId, b)).toEqual(bBefore);
    // The old route is gone: deletion has one binding.
    expect((await byok.http.handle({ method: 'POST', url: '/me/delete', headers: { authorization: `Bearer ${b.accessToken}` }, body: { confirm: true }, remoteAddress: '192.0.2.30' })).status).toBe(404);
    expect(await byok.store.users.get(b.userId)).toBeDefined();
  });
});

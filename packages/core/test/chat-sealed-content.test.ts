// memory.sealContent: chat text, parts and titles sealed at rest under a per-user data key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localKms } from '@byok/core';
import { createSealer } from '../src/vault/sealer';
import { selectTestBackends } from '@byok/testing';
import { ChatContentSealer, isKeyedInputHash, isSealedContent } from '../src/chat/sealed-content';
import { turnInputHash } from '../src/chat/turn-input';
import { codeOf, collect, MASTER, startChatHarness, streamedText, type ChatHarness } from './chat-harness';

const CANARY = 'canary-sealed-7d1f';

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('sealed chat content on %s', (kind) => {
  let h: ChatHarness;
  beforeAll(async () => {
    h = await startChatHarness(kind, { memory: { sealContent: true } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('stores text, parts and titles sealed, and reads them back opened everywhere the user sees them', async () => {
    const { byok, alice } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash', title: `title ${CANARY}` });
    const live = await collect(byok.chat.send(alice, s.id, { text: `question ${CANARY}` }));
    expect(streamedText(live)).toBe(`echo: question ${CANARY}`);

    // At rest (the store under the service is the database as it is): nothing readable.
    const raw = await byok.store.chatMaintenance.sessionMessages(alice, s.id, { afterSeq: 0, limit: 10 });
    expect(raw).toHaveLength(2);
    for (const row of raw) {
      expect(isSealedContent(row.text) && isSealedContent(row.parts), row.role).toBe(true);
      expect(JSON.stringify(row)).not.toContain(CANARY);
      expect(JSON.stringify(row)).not.toContain('echo');
    }
    const rawSession = await byok.store.chatSessions.get(alice, s.id);
    expect(isSealedContent(rawSession!.title)).toBe(true);
    expect(rawSession!.title).not.toContain(CANARY);
    expect(await byok.store.chatContentKeys.get(alice)).toMatchObject({ userId: alice });

    // Opened for the user: the session, the path, the context, the export, a stored resume.
    expect((await byok.chat.getSession(alice, s.id)).title).toBe(`title ${CANARY}`);
    expect((await byok.chat.listSessions(alice)).items.map((x) => x.title)).toContain(`title ${CANARY}`);
    const path = (await byok.chat.listMessages(alice, s.id)).items;
    expect(path.map((m) => m.text)).toEqual([`question ${CANARY}`, `echo: question ${CANARY}`]);
    expect(path[1]!.parts).toEqual([{ type: 'text', text: `echo: question ${CANARY}` }]);
    expect(JSON.stringify((await byok.chat.previewContext(alice, s.id)).messages)).toContain(`question ${CANARY}`);
    const exported = JSON.stringify(await byok.users.exportUserData(alice));
    expect(exported).toContain(`echo: question ${CANARY}`);
    expect(exported).toContain(`title ${CANARY}`);
    const replay = await collect((await byok.chat.resume(alice, s.id, { lastEventId: `${path[1]!.id}:1:1` }))!);
    expect(streamedText(replay)).toBe(`echo: question ${CANARY}`);

    // The next turn sends the opened history to the provider, and a rename is sealed too.
    await collect(byok.chat.send(alice, s.id, { text: 'again' }));
    const sent = JSON.stringify(h.gemini.requests.at(-1)!.body);
    expect(sent).toContain(`question ${CANARY}`);
    await byok.chat.renameSession(alice, s.id, { title: `renamed ${CANARY}` });
    expect((await byok.store.chatSessions.get(alice, s.id))!.title).not.toContain(CANARY);
    expect((await byok.chat.getSession(alice, s.id)).title).toBe(`renamed ${CANARY}`);
  });

  it('keys the stored idempotency hash: no SHA-256 of the input at rest, and retries still replay or conflict as they should', async () => {
    const { byok, alice, bob } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const text = 'yes';
    const first = await collect(byok.chat.send(alice, s.id, { text }, { clientMessageId: 'sealed-retry-1' }));
    const plain = turnInputHash({ kind: 'send' }, [{ type: 'text', text }]);
    const [userRow] = await byok.store.chatMaintenance.sessionMessages(alice, s.id, { afterSeq: 0, limit: 10 });
    expect(isKeyedInputHash(userRow!.inputHash)).toBe(true);
    expect(JSON.stringify(userRow)).not.toContain(plain);
    // The same short input in another user's session hashes to something else.
    const t = await byok.chat.createSession(bob, { provider: 'gemini', model: 'gemini-2.5-flash' });
    await collect(byok.chat.send(bob, t.id, { text }, { clientMessageId: 'sealed-retry-1' }));
    const [bobRow] = await byok.store.chatMaintenance.sessionMessages(bob, t.id, { afterSeq: 0, limit: 10 });
    expect(isKeyedInputHash(bobRow!.inputHash)).toBe(true);
    expect(bobRow!.inputHash).not.toBe(userRow!.inputHash);

    const again = await collect(byok.chat.send(alice, s.id, { text }, { clientMessageId: 'sealed-retry-1' }));
    expect(streamedText(again)).toBe(streamedText(first));
    expect((await byok.chat.listMessages(alice, s.id)).items).toHaveLength(2);
    expect(await codeOf(collect(byok.chat.send(alice, s.id, { text: 'no' }, { clientMessageId: 'sealed-retry-1' })))).toBe('idempotency_conflict');
  });

  // A second instance on the same database (memory has none to share).
  if (kind !== 'memory') it('replays a turn stored before sealing was switched on (its hash is the plain one)', async () => {
    const { alice } = h;
    const before = await h.another({ memory: { sealContent: false } });
    const s = await before.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const first = await collect(before.chat.send(alice, s.id, { text: 'from before' }, { clientMessageId: 'pre-sealing-1' }));
    const [row] = await before.store.chatMaintenance.sessionMessages(alice, s.id, { afterSeq: 0, limit: 10 });
    expect(isKeyedInputHash(row!.inputHash)).toBe(false);
    const again = await collect(h.byok.chat.send(alice, s.id, { text: 'from before' }, { clientMessageId: 'pre-sealing-1' }));
    expect(streamedText(again)).toBe(streamedText(first));
    expect(await codeOf(collect(h.byok.chat.send(alice, s.id, { text: 'changed' }, { clientMessageId: 'pre-sealing-1' })))).toBe('idempotency_conflict');
  });

  it("binds each value to its user, row and field: another row's sealed text does not open", async () => {
    const { byok, alice } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    await collect(byok.chat.send(alice, s.id, { text: 'one' }));
    const [user, reply] = await byok.store.chatMaintenance.sessionMessages(alice, s.id, { afterSeq: 0, limit: 10 });
    const content = new ChatContentSealer(createSealer({ kms: localKms({ keys: MASTER }) }));
    const key = await content.key(byok.store, alice, false);
    expect(content.open(key, alice, user!.id, 'text', user!.text)).toBe('one');
    expect(() => content.open(key, alice, reply!.id, 'text', user!.text)).toThrow(expect.objectContaining({ code: 'seal_invalid' }));
    expect(() => content.open(key, alice, user!.id, 'parts', user!.text)).toThrow(expect.objectContaining({ code: 'seal_invalid' }));
    expect(() => content.open(key, h.bob, user!.id, 'text', user!.text)).toThrow(expect.objectContaining({ code: 'seal_invalid' }));
  });

  it('deleting the user deletes their key: a copy of their sealed rows taken before no longer opens', async () => {
    const { byok } = h;
    const carol = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: `carol-${kind}` })).user.id;
    await byok.keyVault.setKey(carol, 'gemini', 'AIzaSyCHAT-alice-000000000000000000000001');
    const s = await byok.chat.createSession(carol, { provider: 'gemini', model: 'gemini-2.5-flash' });
    await collect(byok.chat.send(carol, s.id, { text: `carol ${CANARY}` }));
    const backup = await byok.store.chatMaintenance.sessionMessages(carol, s.id, { afterSeq: 0, limit: 10 });
    const keyRow = await byok.store.chatContentKeys.get(carol);
    expect(keyRow).toBeDefined();

    await byok.users.deleteUserData(carol);
    expect(await byok.store.chatContentKeys.get(carol)).toBeUndefined();
    // Whoever holds the backup and the KMS gets a new key for that user id, not the old one.
    const again = await byok.users.findOrCreate({ issuer: 'https://i.test', subject: `carol-again-${kind}` });
    const content = new ChatContentSealer(createSealer({ kms: localKms({ keys: MASTER }) }));
    const fresh = await content.key(byok.store, again.user.id, false);
    for (const row of backup) expect(() => content.open(fresh, carol, row.id, 'text', row.text)).toThrow(expect.objectContaining({ code: 'seal_invalid' }));
    expect(await codeOf(byok.chat.listMessages(carol, s.id))).toBe('not_found');
  });
});

describe('plain chat content (the default)', () => {
  let h: ChatHarness;
  beforeAll(async () => {
    h = await startChatHarness('memory');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('stores text as it is and makes no content key; a bad memory option is config_invalid', async () => {
    const s = await h.byok.chat.createSession(h.alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    await collect(h.byok.chat.send(h.alice, s.id, { text: 'plain' }));
    const raw = await h.byok.store.chatMaintenance.sessionMessages(h.alice, s.id, { afterSeq: 0, limit: 10 });
    expect(raw.map((r) => r.text)).toEqual(['plain', 'echo: plain']);
    expect(await h.byok.store.chatContentKeys.get(h.alice)).toBeUndefined();
    const { createByok } = await import('@byok/core');
    expect(await codeOf(createByok({ database: { memory: true }, memory: { sealContent: 'yes' as never } }))).toBe('config_invalid');
  });
});

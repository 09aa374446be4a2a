import { afterAll, describe, expect, it } from 'vitest';
import { createStore, uuidv7, type Store } from '@byok/core/store';
import { createTestDatabase, selectTestBackends, type TestDatabase } from '@byok/testing';
import type { ChatMessageRow } from '../src/store/chat-repositories';
import type { KyselyStore } from '../src/store/kysely/kysely-store';
import { MEMORY_STATE, type MemoryStoreState } from '../src/store/memory/memory-state';

// Parent ids written behind the store's back (a restored backup, a manual edit) can form a
// cycle. The path walk must still end: each step must go to a lower seq.

const T0 = 1_764_000_000_000;
const dropLater: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(dropLater.map((d) => d.drop()));
});

async function seed(store: Store): Promise<{ userId: string; sessionId: string; root: ChatMessageRow; leaf: ChatMessageRow }> {
  const userId = uuidv7();
  const sessionId = uuidv7();
  await store.users.createWithIdentity(
    { id: userId, email: null, emailVerified: false, name: null, pictureUrl: null, custom: null, createdAt: T0, updatedAt: T0 },
    { id: uuidv7(), userId, issuer: 'https://accounts.example.com', subject: `cycle-${userId}`, email: null, emailVerified: false, createdAt: T0, lastLoginAt: T0 },
  );
  const usage = { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 };
  await store.chatSessions.insert({ id: sessionId, userId, title: null, provider: 'gemini', model: 'm', systemPrompt: null, activeLeafId: null, lastSeq: 0, usage, createdAt: T0, updatedAt: T0 });
  const row = (seq: number, parentId: string | null): ChatMessageRow => ({
    id: uuidv7(), sessionId, userId, parentId, seq, role: 'user', text: 't', parts: '[]', status: 'complete', errorCode: null, clientMessageId: null,
    inputHash: null, runId: null, leaseExpiresAt: null, stopRequestedAt: null, usage: null, usageCounts: { ...usage }, tokenEstimate: 0, createdAt: T0, updatedAt: T0,
  });
  const root = (await store.chatMessages.append(userId, sessionId, (seq) => row(seq, null)))!;
  const leaf = (await store.chatMessages.append(userId, sessionId, (seq) => row(seq, root.id)))!;
  return { userId, sessionId, root, leaf };
}

describe('chat path over a corrupted parent cycle', () => {
  it('memory: ends the walk at the first step that does not go to a lower seq', async () => {
    const store = await createStore({ database: { memory: true } });
    const { userId, sessionId, root, leaf } = await seed(store);
    const state = (store as unknown as Record<symbol, MemoryStoreState>)[MEMORY_STATE]!;
    state.chatMessages.set(root.id, { ...state.chatMessages.get(root.id)!, parentId: leaf.id });
    const path = await store.chatMessages.path(userId, sessionId, { leafId: leaf.id, limit: 100 });
    expect(path.map((m) => m.id)).toEqual([root.id, leaf.id]);
  });

  for (const kind of selectTestBackends(['sqlite', 'postgres', 'mysql'] as const)) {
    it(`${kind}: the recursive walk ends instead of looping`, async () => {
      const tdb = await createTestDatabase(kind);
      dropLater.push(tdb);
      const store = await createStore({ database: tdb.config });
      try {
        const { userId, sessionId, root, leaf } = await seed(store);
        const k = store as KyselyStore;
        await k.db.updateTable(k.tables.chatMessages).set({ parent_id: leaf.id }).where('id', '=', root.id).execute();
        const path = await store.chatMessages.path(userId, sessionId, { leafId: leaf.id, limit: 100 });
        expect(path.map((m) => m.id)).toEqual([root.id, leaf.id]);
      } finally {
        await store.close();
      }
    }, 20_000);
  }
});

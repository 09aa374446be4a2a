import { ByokError } from '../../errors';
import { LABELLED_SEALED_TABLES, type ProviderKeyRow, type ProviderKeysRepository, type SealedRecord, type SealedRecordsRepository, type SealedTable } from '../provider-keys-repository';
import { authMemoryTables } from './auth-memory-state';
import type { MemoryWriter } from './memory-state';
import type { MemoryStore } from './memory-store';

/** Provider keys in memory, keyed by row id; `(userId, provider)` is unique. */
export class MemoryProviderKeysRepository implements ProviderKeysRepository {
  readonly #store: MemoryStore;

  constructor(store: MemoryStore) {
    this.#store = store;
  }

  #find(userId: string, provider: string): ProviderKeyRow | undefined {
    for (const row of this.#store.state.providerKeys.values()) if (row.userId === userId && row.provider === provider) return row;
    return undefined;
  }

  get(userId: string, provider: string): Promise<ProviderKeyRow | undefined> {
    return this.#store.run(() => {
      const row = this.#find(userId, provider);
      return row ? { ...row } : undefined;
    });
  }

  list(userId: string): Promise<ProviderKeyRow[]> {
    return this.#store.run(() =>
      [...this.#store.state.providerKeys.values()]
        .filter((r) => r.userId === userId)
        .sort((a, b) => (a.provider < b.provider ? -1 : 1))
        .map((r) => ({ ...r })),
    );
  }

  replace(row: ProviderKeyRow): Promise<string | null> {
    return this.#store.run((w) => {
      const { users, providerKeys } = this.#store.state;
      if (!users.has(row.userId)) throw new ByokError('not_found', 'The referenced record does not exist');
      const previous = this.#find(row.userId, row.provider);
      if (previous) w.delete(providerKeys, previous.id);
      w.set(providerKeys, row.id, { ...row });
      return previous ? previous.id : null;
    });
  }

  setStatus(userId: string, id: string, patch: Pick<ProviderKeyRow, 'status' | 'statusReason' | 'validatedAt' | 'updatedAt'>): Promise<boolean> {
    return this.#store.run((w) => {
      const row = this.#store.state.providerKeys.get(id);
      if (!row || row.userId !== userId) return false;
      w.set(this.#store.state.providerKeys, id, { ...row, ...patch });
      return true;
    });
  }

  delete(userId: string, provider: string): Promise<string | null> {
    return this.#store.run((w) => {
      const row = this.#find(userId, provider);
      if (!row) return null;
      w.delete(this.#store.state.providerKeys, row.id);
      return row.id;
    });
  }
}

/** The rewrap job's view of the memory store's sealed values. */
export class MemorySealedRecordsRepository implements SealedRecordsRepository {
  readonly #store: MemoryStore;

  constructor(store: MemoryStore) {
    this.#store = store;
  }

  /** Every sealed value of `table` with the key the rewrap job writes back to. */
  #records(table: SealedTable): Array<SealedRecord & { write: (w: MemoryWriter, sealed: string, kek: string) => void }> {
    const state = this.#store.state;
    if (table === 'provider_keys') {
      return [...state.providerKeys.values()].map((r) => ({
        id: r.id,
        userId: r.userId,
        scope: r.provider,
        sealed: r.sealed,
        kek: r.kek,
        write: (w, sealed, kek) => w.set(state.providerKeys, r.id, { ...state.providerKeys.get(r.id)!, sealed, kek }),
      }));
    }
    if (table === 'chat_content_keys') {
      return [...state.chatContentKeys.values()].map((r) => ({
        id: r.id,
        userId: r.userId,
        scope: '',
        sealed: r.sealed,
        kek: '',
        write: (w, sealed) => w.set(state.chatContentKeys, r.userId, { ...state.chatContentKeys.get(r.userId)!, sealed }),
      }));
    }
    const auth = authMemoryTables(state);
    if (table === 'signing_keys') {
      return [...auth.signingKeys.values()].map((r) => ({
        id: r.id,
        userId: '',
        scope: '',
        sealed: r.privateSealed,
        kek: '',
        write: (w, sealed) => w.set(auth.signingKeys, r.id, { ...auth.signingKeys.get(r.id)!, privateSealed: sealed }),
      }));
    }
    const column = table === 'oauth_access_tokens' ? 'accessTokenSealed' : 'refreshTokenSealed';
    return [...auth.oauthTokens.entries()]
      .filter(([, r]) => r[column] !== null)
      .map(([key, r]) => ({
        id: r.id,
        userId: r.userId,
        scope: '',
        sealed: r[column]!,
        kek: '',
        write: (w, sealed) => w.set(auth.oauthTokens, key, { ...auth.oauthTokens.get(key)!, [column]: sealed }),
      }));
  }

  page(table: SealedTable, query: { excludeKek: string; afterId: string; limit: number }): Promise<SealedRecord[]> {
    const labelled = LABELLED_SEALED_TABLES.includes(table);
    return this.#store.run(() =>
      this.#records(table)
        .filter((r) => (!labelled || r.kek !== query.excludeKek) && r.id > query.afterId)
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .slice(0, query.limit)
        .map(({ write: _write, ...r }) => r),
    );
  }

  compareAndSet(table: SealedTable, id: string, expected: string, next: { sealed: string; kek: string }): Promise<boolean> {
    return this.#store.run((w) => {
      const record = this.#records(table).find((r) => r.id === id);
      if (!record || record.sealed !== expected) return false;
      record.write(w, next.sealed, next.kek);
      return true;
    });
  }

  countByKek(): Promise<Array<{ table: SealedTable; kek: string; count: number }>> {
    return this.#store.run(() => {
      const counts = new Map<string, number>();
      for (const r of this.#store.state.providerKeys.values()) counts.set(r.kek, (counts.get(r.kek) ?? 0) + 1);
      return [...counts].sort().map(([kek, count]) => ({ table: 'provider_keys' as const, kek, count }));
    });
  }
}

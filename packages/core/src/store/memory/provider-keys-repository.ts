import { ByokError } from '../../errors';
import type { ProviderKeyRow, ProviderKeysRepository, SealedRecord, SealedRecordsRepository, SealedTable } from '../provider-keys-repository';
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

/** The rewrap job's view of the memory store's sealed rows. */
export class MemorySealedRecordsRepository implements SealedRecordsRepository {
  readonly #store: MemoryStore;

  constructor(store: MemoryStore) {
    this.#store = store;
  }

  page(_table: SealedTable, query: { excludeKek: string; afterId: string; limit: number }): Promise<SealedRecord[]> {
    return this.#store.run(() =>
      [...this.#store.state.providerKeys.values()]
        .filter((r) => r.kek !== query.excludeKek && r.id > query.afterId)
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .slice(0, query.limit)
        .map((r) => ({ id: r.id, userId: r.userId, scope: r.provider, sealed: r.sealed, kek: r.kek })),
    );
  }

  compareAndSet(_table: SealedTable, id: string, expected: string, next: { sealed: string; kek: string }): Promise<boolean> {
    return this.#store.run((w) => {
      const row = this.#store.state.providerKeys.get(id);
      if (!row || row.sealed !== expected) return false;
      w.set(this.#store.state.providerKeys, id, { ...row, ...next });
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

import { ByokError } from '../../errors';
import type { AuthSessionRotation, AuthSessionRow, AuthSessionsRepository } from '../auth-repositories';
import { authMemoryTables } from './auth-memory-state';
import type { MemoryStore } from './memory-store';

/** Refresh-token sessions in memory; every method runs under the store's mutex. */
export class MemoryAuthSessionsRepository implements AuthSessionsRepository {
  readonly #store: MemoryStore;

  constructor(store: MemoryStore) {
    this.#store = store;
  }

  #rows() {
    return authMemoryTables(this.#store.state).authSessions;
  }

  insert(row: AuthSessionRow): Promise<void> {
    return this.#store.run((w) => {
      if (!this.#store.state.users.has(row.userId)) throw new ByokError('not_found', 'The referenced record does not exist');
      if (this.#rows().has(row.id)) throw new ByokError('conflict', 'Duplicate session id');
      w.set(this.#rows(), row.id, { ...row });
    });
  }

  findById(id: string): Promise<AuthSessionRow | undefined> {
    return this.#store.run(() => {
      const row = this.#rows().get(id);
      return row ? { ...row } : undefined;
    });
  }

  rotate(id: string, refreshHash: string, next: AuthSessionRow, now: number): Promise<AuthSessionRotation> {
    return this.#store.run((w) => {
      const rows = this.#rows();
      const row = rows.get(id);
      if (!row || row.refreshHash !== refreshHash || row.rotatedAt !== null || row.revokedAt !== null || row.expiresAt <= now) {
        return { ok: false };
      }
      if (rows.has(next.id)) throw new ByokError('conflict', 'Duplicate session id');
      w.set(rows, id, { ...row, rotatedAt: now, lastUsedAt: now });
      w.set(rows, next.id, { ...next });
      return { ok: true };
    });
  }

  familyHead(userId: string, familyId: string): Promise<AuthSessionRow | undefined> {
    return this.#store.run(() => {
      for (const row of this.#rows().values()) {
        if (row.userId === userId && row.familyId === familyId && row.rotatedAt === null && row.revokedAt === null) return { ...row };
      }
      return undefined;
    });
  }

  revokeFamily(userId: string, familyId: string, now: number): Promise<number> {
    return this.#revokeWhere(now, (row) => row.userId === userId && row.familyId === familyId);
  }

  revokeAllForUser(userId: string, now: number): Promise<number> {
    return this.#revokeWhere(now, (row) => row.userId === userId);
  }

  listActive(userId: string, now: number): Promise<AuthSessionRow[]> {
    return this.#store.run(() =>
      [...this.#rows().values()]
        .filter((r) => r.userId === userId && r.rotatedAt === null && r.revokedAt === null && r.expiresAt > now)
        .sort((a, b) => b.lastUsedAt - a.lastUsedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
        .map((r) => ({ ...r })),
    );
  }

  deleteExpired(before: number): Promise<number> {
    return this.#store.run((w) => {
      let count = 0;
      for (const [id, row] of [...this.#rows()]) {
        if (row.expiresAt < before && w.delete(this.#rows(), id)) count++;
      }
      return count;
    });
  }

  #revokeWhere(now: number, match: (row: AuthSessionRow) => boolean): Promise<number> {
    return this.#store.run((w) => {
      let count = 0;
      for (const [id, row] of [...this.#rows()]) {
        if (row.revokedAt !== null || !match(row)) continue;
        w.set(this.#rows(), id, { ...row, revokedAt: now });
        count++;
      }
      return count;
    });
  }
}

import { ByokError } from '../../errors';
import type { IdentityRow, UserPatch, UserRow, UsersRepository } from '../store';
import type { MemoryStore } from './memory-store';

/** Users and identities in memory, with unique(issuer, subject) and cascading delete. */
export class MemoryUsersRepository implements UsersRepository {
  readonly #store: MemoryStore;

  constructor(store: MemoryStore) {
    this.#store = store;
  }

  findByIdentity(issuer: string, subject: string): Promise<{ user: UserRow; identity: IdentityRow } | undefined> {
    return this.#store.run(() => {
      const { identities, users } = this.#store.state;
      for (const identity of identities.values()) {
        if (identity.issuer === issuer && identity.subject === subject) {
          const user = users.get(identity.userId);
          return user ? { user: { ...user }, identity: { ...identity } } : undefined;
        }
      }
      return undefined;
    });
  }

  findByVerifiedEmail(email: string): Promise<UserRow[]> {
    const wanted = email.trim().toLowerCase();
    return this.#store.run(() =>
      [...this.#store.state.users.values()]
        .filter((u) => u.emailVerified && u.email !== null && u.email.trim().toLowerCase() === wanted)
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .slice(0, 2)
        .map((u) => ({ ...u })),
    );
  }

  createWithIdentity(user: UserRow, identity: IdentityRow): Promise<void> {
    return this.#store.run((w) => {
      const { users, identities } = this.#store.state;
      if (identity.userId !== user.id) throw new ByokError('bad_request', 'The identity must belong to the user being created');
      if (users.has(user.id)) throw new ByokError('conflict', 'The record already exists');
      this.#assertIdentityFree(identity);
      w.set(users, user.id, { ...user });
      w.set(identities, identity.id, { ...identity });
    });
  }

  get(userId: string): Promise<UserRow | undefined> {
    return this.#store.run(() => {
      const user = this.#store.state.users.get(userId);
      return user ? { ...user } : undefined;
    });
  }

  update(userId: string, patch: UserPatch): Promise<UserRow | undefined> {
    return this.#store.run((w) => {
      const { users } = this.#store.state;
      const user = users.get(userId);
      if (!user) return undefined;
      const next: UserRow = { ...user, updatedAt: patch.updatedAt };
      if (patch.email !== undefined) next.email = patch.email;
      if (patch.emailVerified !== undefined) next.emailVerified = patch.emailVerified;
      if (patch.name !== undefined) next.name = patch.name;
      if (patch.pictureUrl !== undefined) next.pictureUrl = patch.pictureUrl;
      if (patch.custom !== undefined) next.custom = patch.custom;
      w.set(users, userId, next);
      return { ...next };
    });
  }

  addIdentity(userId: string, identity: IdentityRow): Promise<void> {
    return this.#store.run((w) => {
      const { users, identities } = this.#store.state;
      this.#assertIdentityFree(identity);
      if (!users.has(userId)) throw new ByokError('not_found', 'The referenced record does not exist');
      w.set(identities, identity.id, { ...identity, userId });
    });
  }

  listIdentities(userId: string): Promise<IdentityRow[]> {
    return this.#store.run(() =>
      [...this.#store.state.identities.values()]
        .filter((i) => i.userId === userId)
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map((i) => ({ ...i })),
    );
  }

  touchIdentity(
    userId: string,
    identityId: string,
    patch: { email: string | null; emailVerified: boolean; lastLoginAt: number },
  ): Promise<boolean> {
    return this.#store.run((w) => {
      const { identities } = this.#store.state;
      const identity = identities.get(identityId);
      if (!identity || identity.userId !== userId) return false;
      w.set(identities, identityId, { ...identity, email: patch.email, emailVerified: patch.emailVerified, lastLoginAt: patch.lastLoginAt });
      return true;
    });
  }

  delete(userId: string): Promise<boolean> {
    return this.#store.run((w) => {
      const { users, userCascades } = this.#store.state;
      if (!users.has(userId)) return false;
      for (const cascade of userCascades) cascade(userId, w);
      w.delete(users, userId);
      return true;
    });
  }

  #assertIdentityFree(identity: IdentityRow): void {
    for (const existing of this.#store.state.identities.values()) {
      if (existing.id === identity.id || (existing.issuer === identity.issuer && existing.subject === identity.subject)) {
        throw new ByokError('conflict', 'This identity is already linked to a user');
      }
    }
  }
}

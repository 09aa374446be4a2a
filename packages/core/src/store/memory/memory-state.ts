import type { AuditHead, AuditPersonalRow, AuditRow, IdentityRow, PreferencesRow, UserRow } from '../store';
import type { ProviderKeyRow } from '../provider-keys-repository';
import type { ChatMessageRow, ChatSessionRow } from '../chat-repositories';
import type { ChatContentKeyRow } from '../chat-content-keys-repository';

/**
 * The in-memory store's tables. Exposed (under {@link MEMORY_STATE}) only so test tooling
 * such as `memoryTamper()` in @byok/testing can corrupt data behind the store's back.
 */
export interface MemoryStoreState {
  users: Map<string, UserRow>;
  identities: Map<string, IdentityRow>;
  preferences: Map<string, PreferencesRow>;
  auditLog: Map<string, AuditRow>;
  /** unique(chain, seq): `${chain}\n${seq}` → audit row id. */
  auditChainSeq: Map<string, string>;
  auditHeads: Map<string, AuditHead>;
  auditPersonal: Map<string, AuditPersonalRow>;
  auditSalts: Map<string, string>;
  providerKeys: Map<string, ProviderKeyRow>;
  chatSessions: Map<string, ChatSessionRow>;
  /** Deleted with their session (and with their user). */
  chatMessages: Map<string, ChatMessageRow>;
  /** By user id. */
  chatContentKeys: Map<string, ChatContentKeyRow>;
  /**
   * ON DELETE CASCADE for tables keyed to a user: each entry removes the user's rows
   * from one table. Later capabilities' memory repositories append theirs.
   */
  userCascades: Array<(userId: string, writer: MemoryWriter) => void>;
}

/** Where tooling finds a memory store's state: `(store as any)[MEMORY_STATE]`. */
export const MEMORY_STATE = Symbol.for('byok.store.memory-state');

export function createMemoryState(): MemoryStoreState {
  const state: MemoryStoreState = {
    users: new Map(),
    identities: new Map(),
    preferences: new Map(),
    auditLog: new Map(),
    auditChainSeq: new Map(),
    auditHeads: new Map(),
    auditPersonal: new Map(),
    auditSalts: new Map(),
    providerKeys: new Map(),
    chatSessions: new Map(),
    chatMessages: new Map(),
    chatContentKeys: new Map(),
    userCascades: [],
  };
  state.userCascades.push(
    (userId, w) => {
      for (const [id, identity] of state.identities) if (identity.userId === userId) w.delete(state.identities, id);
    },
    (userId, w) => w.delete(state.preferences, userId),
    (userId, w) => {
      for (const [id, key] of state.providerKeys) if (key.userId === userId) w.delete(state.providerKeys, id);
    },
    (userId, w) => {
      for (const [id, message] of state.chatMessages) if (message.userId === userId) w.delete(state.chatMessages, id);
      for (const [id, session] of state.chatSessions) if (session.userId === userId) w.delete(state.chatSessions, id);
    },
    (userId, w) => w.delete(state.chatContentKeys, userId),
  );
  return state;
}

export function chainSeqKey(chain: string, seq: number): string {
  return `${chain}\n${seq}`;
}

/**
 * Every write to the state goes through a writer, which records how to undo it; a
 * transaction that throws replays the undo log backwards.
 */
export class MemoryWriter {
  readonly #undo: Array<() => void> = [];

  set<K, V>(map: Map<K, V>, key: K, value: V): void {
    const had = map.has(key);
    const old = map.get(key);
    map.set(key, value);
    this.#undo.push(() => (had ? map.set(key, old as V) : map.delete(key)));
  }

  delete<K, V>(map: Map<K, V>, key: K): boolean {
    if (!map.has(key)) return false;
    const old = map.get(key) as V;
    map.delete(key);
    this.#undo.push(() => map.set(key, old));
    return true;
  }

  rollback(): void {
    for (let i = this.#undo.length - 1; i >= 0; i--) this.#undo[i]!();
    this.#undo.length = 0;
  }
}

/**
 * Per-user data keys of sealed chat content (`memory.sealContent`, DESIGN §6): one row per
 * user, the key itself sealed by the vault (purpose `chat_content`). Deleting the row —
 * with the user, or on its own — leaves every message sealed under it unreadable.
 */
export interface ChatContentKeyRow {
  id: string;
  userId: string;
  /** The data key, sealed (base64url), under the context `{ purpose: 'chat_content', userId, recordId: id }`. */
  sealed: string;
  createdAt: number;
}

export interface ChatContentKeysRepository {
  get(userId: string): Promise<ChatContentKeyRow | undefined>;
  /**
   * Stores `row` unless the user already has a key; returns the user's key either way (the
   * one that won a race). `not_found` when the user does not exist.
   */
  insertIfAbsent(row: ChatContentKeyRow): Promise<ChatContentKeyRow>;
  /** Deletes the user's key (shredding their sealed content); true when there was one. */
  delete(userId: string): Promise<boolean>;
}

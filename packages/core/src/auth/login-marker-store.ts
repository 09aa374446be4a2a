/**
 * Marks single-use values (a login's `state`) as spent, so a callback cannot be replayed.
 * Shared by every instance when they share the store (Redis); a marker lapses after its
 * lifetime, when the value it guards has expired anyway.
 *
 * @example
 * if (!(await markers.claim(`login_state:${handle}`, 600_000))) throw alreadyUsed();
 */
export interface LoginMarkerStore {
  /** Marks `key` as used for `ttlMs`. True the first time; false if it was already marked. */
  claim(key: string, ttlMs: number): Promise<boolean>;
}

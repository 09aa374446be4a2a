import { ByokError } from '../errors';
import type { Store } from '../store/store';
import type { UsersAuditRecorder } from './users-service';

/** What a deletion removed, as recorded (counts only) in its audit row. */
export interface UserDataDeletion {
  sessions: number;
  messages: number;
  providerKeys: number;
}

/** Who asked for the deletion: the user themself (default) or an administrator. */
export interface DeleteUserDataOptions {
  by?: 'self' | 'admin';
}

/**
 * Deletes the user and every row of theirs in one transaction: the user row goes, and ON
 * DELETE CASCADE takes identities, preferences, provider keys, sign-in sessions, issuer
 * tokens, chat sessions and messages. The deletion is recorded on the system chain (actor
 * none, target the user id, counts only, no ip or user agent) before the user's audit
 * personal rows and HMAC salt are erased, so the chains still verify and identify no one.
 */
export async function deleteUserData(
  deps: { store: Store; audit: UsersAuditRecorder },
  userId: string,
  options: DeleteUserDataOptions = {},
): Promise<UserDataDeletion> {
  return deps.store.transaction(async (tx) => {
    if (!(await tx.users.get(userId))) throw new ByokError('not_found', 'User not found');
    const chat = await tx.chatMaintenance.countForUser(userId);
    const providerKeys = (await tx.providerKeys.list(userId)).length;
    const removed: UserDataDeletion = { sessions: chat.sessions, messages: chat.messages, providerKeys };
    await deps.audit.record(
      { actorUserId: null, chainOwner: 'system', action: 'user.deleted', target: userId, outcome: 'success', metadata: { by: options.by ?? 'self', ...removed } },
      tx,
    );
    await tx.audit.eraseUser(userId);
    await tx.users.delete(userId);
    return removed;
  });
}

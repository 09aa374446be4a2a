import { ByokError } from '../errors';
import type { ChatMessageRow } from './chat-repositories';

/**
 * Every store checks that the row `append`'s builder returned is the one it asked for
 * (same user, session and allocated seq), so a buggy builder can never file a message
 * under another session or user, or take a seq it was not given.
 */
export function assertAppendedRow(expected: { userId: string; sessionId: string; seq: number }, row: ChatMessageRow): void {
  if (row.userId !== expected.userId || row.sessionId !== expected.sessionId || row.seq !== expected.seq) {
    throw new ByokError('internal', 'The chat message does not carry the session, user and seq it was built for');
  }
}

import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares two secrets in constant time. Both sides are hashed first (SHA-256), so
 * neither their lengths nor where they differ shows in the timing.
 *
 * @example
 * if (!constantTimeEqual(returnedState, login.state)) throw new ByokError('login_failed', 'state mismatch');
 */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

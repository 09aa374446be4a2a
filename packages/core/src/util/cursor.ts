import { z } from 'zod';
import { ByokError } from '../errors';

/** The one pagination input shape: `{ limit?: 1–100 (default 20), cursor? }`. */
export const pageInput = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(512).optional(),
});
export type PageInput = z.input<typeof pageInput>;

/** The one pagination output shape. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export function pageOutput<T extends z.ZodTypeAny>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

/**
 * Cursors are opaque: base64url of a JSON tuple tagged with what it pages, so a cursor
 * from one list cannot be replayed against another. Decoding validates every element.
 */
export function encodeCursor(kind: string, tuple: Array<string | number>): string {
  return Buffer.from(JSON.stringify([kind, ...tuple]), 'utf8').toString('base64url');
}

export function decodeCursor<T extends z.ZodTypeAny>(kind: string, cursor: string, tuple: T): z.infer<T> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new ByokError('invalid_cursor', 'The cursor is not valid');
  }
  if (!Array.isArray(parsed) || parsed[0] !== kind) throw new ByokError('invalid_cursor', 'The cursor is not valid');
  const result = tuple.safeParse(parsed.slice(1));
  if (!result.success) throw new ByokError('invalid_cursor', 'The cursor is not valid');
  return result.data;
}

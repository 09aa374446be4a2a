import { z } from 'zod';
import type { UserRow } from '../store/store';

/** A user as byok shows it to the user and to the host. */
export const userProfileSchema = z.object({
  id: z.string(),
  email: z.string().nullable(),
  emailVerified: z.boolean(),
  name: z.string().nullable(),
  pictureUrl: z.string().nullable(),
  custom: z.unknown().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type UserProfile = z.infer<typeof userProfileSchema>;

/** The profile of a stored user row (`custom` parsed from its JSON text). */
export function toUserProfile(row: UserRow): UserProfile {
  return {
    id: row.id,
    email: row.email,
    emailVerified: row.emailVerified,
    name: row.name,
    pictureUrl: row.pictureUrl,
    custom: row.custom === null ? null : (JSON.parse(row.custom) as unknown),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

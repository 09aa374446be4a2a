import { z } from 'zod';
import { defineOperation, type Operation } from '../http/operation';
import { preferencesPatch, preferencesSchema } from './preferences-schema';
import { userProfileSchema, type UsersService } from './users-service';

/** The HTTP operations of users and preferences. */
export function usersOperations(users: UsersService): Operation[] {
  return [
    defineOperation({
      kind: 'json',
      name: 'me.get',
      summary: 'The signed-in user’s profile',
      auth: 'required',
      input: z.object({}),
      output: userProfileSchema,
      http: { method: 'GET', path: '/me' },
      handler: ({ auth }) => users.get(auth.userId),
    }),
    defineOperation({
      kind: 'json',
      name: 'me.update',
      summary: 'Update name, picture or the host-defined custom field',
      auth: 'required',
      input: z.object({
        name: z.string().nullable().optional(),
        pictureUrl: z.string().nullable().optional(),
        custom: z.unknown().optional(),
      }),
      output: userProfileSchema,
      http: { method: 'PATCH', path: '/me' },
      handler: ({ auth, input, meta }) => users.update(auth.userId, input, meta),
    }),
    defineOperation({
      kind: 'empty',
      name: 'me.delete',
      summary: 'Delete the signed-in user and all their data',
      auth: 'required',
      input: z.object({ confirm: z.literal(true) }),
      http: { method: 'POST', path: '/me/delete' },
      handler: ({ auth }) => users.delete(auth.userId),
    }),
    defineOperation({
      kind: 'json',
      name: 'me.preferences.get',
      summary: 'The signed-in user’s preferences',
      auth: 'required',
      input: z.object({}),
      output: preferencesSchema,
      http: { method: 'GET', path: '/me/preferences' },
      handler: ({ auth }) => users.getPreferences(auth.userId),
    }),
    defineOperation({
      kind: 'json',
      name: 'me.preferences.update',
      summary: 'Update theme, language (BCP 47) or time zone (IANA)',
      auth: 'required',
      input: preferencesPatch,
      output: preferencesSchema,
      http: { method: 'PATCH', path: '/me/preferences' },
      handler: ({ auth, input, meta }) => users.updatePreferences(auth.userId, input, meta),
    }),
  ];
}

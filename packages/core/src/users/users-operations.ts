import { z } from 'zod';
import { defineOperation, type Operation } from '../http/operation';
import { preferencesPatch, preferencesSchema } from './preferences-schema';
import { userDataExportSchema } from './user-data-export';
import { userProfileSchema, type UsersService } from './users-service';

/** The HTTP operations of users and preferences. */
export function usersOperations(users: UsersService) {
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
      summary: 'Delete the signed-in user and all their data (audited on the system chain, counts only)',
      auth: 'required',
      input: z.object({}),
      http: { method: 'DELETE', path: '/me' },
      handler: async ({ auth }) => {
        await users.deleteUserData(auth.userId, { by: 'self' });
      },
    }),
    defineOperation({
      kind: 'json',
      name: 'me.export',
      summary: 'Everything byok keeps about the signed-in user, as one JSON document (no secrets)',
      auth: 'required',
      input: z.object({}),
      output: userDataExportSchema,
      http: { method: 'GET', path: '/me/export' },
      handler: async ({ auth, meta, response }) => {
        const data = await users.exportUserData(auth.userId, meta);
        response.headers['content-disposition'] = `attachment; filename="byok-export-${new Date(data.exportedAt).toISOString().slice(0, 10)}.json"`;
        return data;
      },
    }),
    defineOperation({
      kind: 'raw',
      name: 'chat.sessions.exportMarkdown',
      summary: 'One of the signed-in user’s chat sessions as Markdown (the branch shown)',
      auth: 'required',
      produces: 'markdown',
      input: z.object({ sessionId: z.string().min(1).max(100) }),
      http: { method: 'GET', path: '/chat/sessions/:sessionId/export.md' },
      handler: async ({ auth, input, meta }) => {
        const markdown = await users.exportSessionMarkdown(auth.userId, input.sessionId, meta);
        return {
          status: 200,
          headers: {
            'content-type': 'text/markdown; charset=utf-8',
            'content-disposition': `attachment; filename="chat-${input.sessionId.replace(/[^A-Za-z0-9_-]/g, '_')}.md"`,
          },
          text: markdown,
        };
      },
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
  ] satisfies Operation[];
}

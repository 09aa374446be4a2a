import { z } from 'zod';
import { defineOperation, type Operation } from '../http/operation';
import { pageOutput } from '../util/cursor';
import type { AuditService } from './audit-service';

/** One row of a user's own audit trail, as `audit.list` returns it. */
export const auditEntrySchema = z.object({
  id: z.string(),
  seq: z.number(),
  at: z.number(),
  action: z.string(),
  target: z.string().nullable(),
  outcome: z.enum(['success', 'failure', 'denied']),
  metadata: z.record(z.string(), z.unknown()),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
});

const listInput = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(512).optional(),
  action: z.union([z.string().min(1).max(64), z.array(z.string().min(1).max(64)).max(50)]).optional(),
  from: z.coerce.number().int().min(0).optional(),
  to: z.coerce.number().int().min(0).optional(),
});

/** The HTTP operations of the audit trail: a user reads their own rows. */
export function auditOperations(audit: AuditService) {
  return [
    defineOperation({
      kind: 'json',
      name: 'me.audit.list',
      summary: 'The signed-in user’s own audit trail, newest first',
      auth: 'required',
      input: listInput,
      output: pageOutput(auditEntrySchema),
      http: { method: 'GET', path: '/me/audit' },
      handler: ({ auth, input }) =>
        audit.list(auth.userId, {
          limit: input.limit,
          ...(input.cursor !== undefined ? { cursor: input.cursor } : {}),
          ...(input.action !== undefined ? { actions: Array.isArray(input.action) ? input.action : [input.action] } : {}),
          ...(input.from !== undefined ? { from: input.from } : {}),
          ...(input.to !== undefined ? { to: input.to } : {}),
        }),
    }),
  ] satisfies Operation[];
}

import { z } from 'zod';
import { ByokError } from '../errors';
import { isSecretName, sanitizeString } from '../util/sanitize';

/**
 * The metadata schema of one audit action: a zod object whose keys are the ONLY keys
 * that action may store. Unknown keys are stripped, a key whose value fails its schema
 * is dropped, and nothing else ever reaches the audit row.
 */
export type AuditMetadataSchema = z.ZodObject<z.ZodRawShape>;

/** A registry of actions: action name → allow-listed metadata schema. */
export type AuditActionRegistry = Readonly<Record<string, AuditMetadataSchema>>;

const ACTION_NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

const id = z.string().min(1).max(100);
const shortText = z.string().min(1).max(200);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const issuer = z.string().min(1).max(300);
const provider = z.string().min(1).max(64);
const errorCode = z.string().regex(/^[a-z][a-z0-9_.]{0,63}$/);
const fieldNames = z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/)).max(32);
const keyStatus = z.enum(['valid', 'invalid', 'unverified']);

/**
 * The actions byok itself records, each with the metadata keys it may keep. Every key is
 * optional: what a caller passes beyond these, or passes in the wrong shape, is dropped.
 * No schema names a secret (the registry refuses names such as `token`, `key`, `secret`).
 *
 * @example
 * auditActions['key.set'].shape // → { provider, last4, fingerprint, status, replaced }
 */
export const auditActions = defineAuditActions({
  'user.created': z.object({ issuer: issuer.optional(), method: z.enum(['oidc', 'dev']).optional() }),
  'user.updated': z.object({ fields: fieldNames.optional() }),
  'user.deleted': z.object({
    by: z.enum(['self', 'admin']).optional(),
    sessions: count.optional(),
    messages: count.optional(),
    providerKeys: count.optional(),
  }),
  'user.exported': z.object({
    format: z.enum(['json', 'markdown']).optional(),
    sessionId: id.optional(),
    sessions: count.optional(),
    messages: count.optional(),
    bytes: count.optional(),
  }),
  'user.data_deleted': z.object({ sessions: count.optional(), messages: count.optional(), providerKeys: count.optional() }),
  'preferences.updated': z.object({ fields: fieldNames.optional() }),
  'auth.login.succeeded': z.object({
    issuer: issuer.optional(),
    identityId: id.optional(),
    sessionId: id.optional(),
    newUser: z.boolean().optional(),
    linked: z.boolean().optional(),
  }),
  'auth.login.failed': z.object({
    issuer: issuer.optional(),
    reason: errorCode.optional(),
    stage: z.enum(['start', 'callback', 'link']).optional(),
  }),
  'auth.refresh': z.object({ sessionId: id.optional(), familyId: id.optional() }),
  'auth.refresh.reused': z.object({ sessionId: id.optional(), familyId: id.optional(), revoked: count.optional() }),
  'auth.logout': z.object({ sessionId: id.optional(), familyId: id.optional(), revoked: count.optional() }),
  'auth.logout_all': z.object({ revoked: count.optional() }),
  'auth.session.revoked': z.object({ sessionId: id.optional(), familyId: id.optional(), reason: errorCode.optional() }),
  'auth.identity.linked': z.object({ issuer: issuer.optional(), identityId: id.optional() }),
  'auth.keys.rotated': z.object({ kid: id.optional(), alg: z.string().max(16).optional(), previousKid: id.optional() }),
  'auth.keys.revoked': z.object({ kid: id.optional() }),
  'key.set': z.object({
    provider: provider.optional(),
    last4: z.string().max(4).optional(),
    fingerprint: z.string().regex(/^[A-Za-z0-9_:-]{1,128}$/).optional(),
    status: keyStatus.optional(),
    replaced: z.boolean().optional(),
  }),
  'key.tested': z.object({ provider: provider.optional(), status: keyStatus.optional(), reason: errorCode.optional() }),
  'key.removed': z.object({ provider: provider.optional() }),
  'key.use_refused': z.object({ provider: provider.optional(), reason: errorCode.optional() }),
  'kms.rewrapped': z.object({
    driver: z.string().max(32).optional(),
    fromKeyId: shortText.optional(),
    toKeyId: shortText.optional(),
    fromVersion: shortText.optional(),
    toVersion: shortText.optional(),
    records: count.optional(),
    failed: count.optional(),
  }),
  'chat.session.deleted': z.object({ sessionId: id.optional(), messages: count.optional() }),
  'chat.message.deleted': z.object({ sessionId: id.optional(), messageId: id.optional(), seq: count.optional() }),
  'chat.retention.purged': z.object({ sessions: count.optional(), messages: count.optional(), cutoff: count.optional(), maxAgeMs: count.optional() }),
});

/** The names of byok's built-in audit actions. */
export type BuiltInAuditAction = keyof typeof auditActions;

/**
 * Checks and freezes a registry of audit actions: names are dotted lower-case words, and
 * no schema may allow a key whose name says it holds a secret. Hosts use it for their
 * own actions and pass the result to the AuditService (`actions`).
 *
 * @example
 * import { z } from 'zod';
 * const hostActions = defineAuditActions({
 *   'billing.plan_changed': z.object({ from: z.string().max(32).optional(), to: z.string().max(32).optional() }),
 * });
 */
export function defineAuditActions<const T extends Record<string, AuditMetadataSchema>>(actions: T): Readonly<T> {
  for (const [name, schema] of Object.entries(actions)) {
    if (!ACTION_NAME.test(name) || name.length > 64) {
      throw new ByokError('config_invalid', `Audit action name "${name}" must be dotted lower-case words`);
    }
    if (!(schema instanceof z.ZodObject)) {
      throw new ByokError('config_invalid', `Audit action "${name}" needs a zod object schema`);
    }
    for (const key of Object.keys(schema.shape)) {
      if (isSecretName(key)) {
        throw new ByokError('config_invalid', `Audit action "${name}" may not allow the metadata key "${key}"`);
      }
    }
  }
  return Object.freeze({ ...actions });
}

/**
 * Reduces caller-supplied metadata to what the action's allow-list keeps: unknown keys
 * stripped, keys whose value fails its schema dropped, secret-shaped substrings masked.
 * An action missing from the registry is a programming error (`config_invalid`).
 *
 * @example
 * allowListAuditMetadata(auditActions, 'key.set', { provider: 'gemini', apiKey: 'AIza…' })
 * // → { provider: 'gemini' }
 */
export function allowListAuditMetadata(
  registry: AuditActionRegistry,
  action: string,
  metadata: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const schema = Object.hasOwn(registry, action) ? registry[action] : undefined;
  if (schema === undefined) throw new ByokError('config_invalid', `Unknown audit action "${action}"`);
  const out: Record<string, unknown> = {};
  if (metadata === undefined || metadata === null) return out;
  const shape = schema.shape;
  for (const key of Object.keys(shape)) {
    if (!Object.hasOwn(metadata, key) || isSecretName(key)) continue;
    const field = shape[key];
    const value = metadata[key];
    if (field === undefined || value === undefined) continue;
    const parsed = z.safeParse(field, value);
    if (parsed.success && parsed.data !== undefined) out[key] = maskSecrets(parsed.data);
  }
  return out;
}

function maskSecrets(value: unknown): unknown {
  if (typeof value === 'string') return sanitizeString(value);
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (!isSecretName(k)) out[k] = maskSecrets(v);
    return out;
  }
  return value;
}

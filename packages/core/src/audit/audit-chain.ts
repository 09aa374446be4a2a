import { createHash, createHmac } from 'node:crypto';
import type { AuditRow } from '../store/store';
import { canonicalJson } from './canonical-json';

/** The name of the one chain that belongs to no user. */
export const SYSTEM_CHAIN = 'system';

/** Domain tag of version 1 of byok's audit chain; part of every genesis hash. */
export const AUDIT_CHAIN_VERSION = 'byok-audit-v1';

/**
 * The chain an owner's rows go to: `system` for the system owner, `user:<userId>` else.
 *
 * @example
 * auditChainName('system') // → 'system'
 * auditChainName('0190…') // → 'user:0190…'
 */
export function auditChainName(owner: string): string {
  return owner === SYSTEM_CHAIN ? SYSTEM_CHAIN : `user:${owner}`;
}

/**
 * The owner of a chain (inverse of {@link auditChainName}): `system` or the user id.
 *
 * @example
 * auditChainOwner('user:0190…') // → '0190…'
 */
export function auditChainOwner(chain: string): string {
  return chain.startsWith('user:') ? chain.slice('user:'.length) : chain;
}

/**
 * The hash a chain starts from: `SHA-256("byok-audit-v1" ‖ chain)`, hex.
 *
 * @example
 * auditGenesisHash('system') // → 64 hex characters
 */
export function auditGenesisHash(chain: string): string {
  return createHash('sha256').update(AUDIT_CHAIN_VERSION + chain, 'utf8').digest('hex');
}

/** The fields of a row the chain hash commits to, in their canonical form. */
export interface AuditHashedFields {
  id: string;
  chain: string;
  seq: number;
  at: number;
  actorUserId: string | null;
  action: string;
  target: string | null;
  outcome: string;
  /** The parsed metadata object (its canonical JSON is what the row stores). */
  metadata: Record<string, unknown>;
  personalHmac: string | null;
}

/**
 * `SHA-256(prevHash ‖ RFC 8785 canonical JSON of the fixed field list)`, hex. The field
 * list is exactly {@link AuditHashedFields}; `prevHash` and `hash` are not in it.
 *
 * @example
 * const hash = auditRowHash(auditGenesisHash('system'), { id: uuidv7(), chain: 'system', seq: 1, at: Date.now(), actorUserId: null,
 *   action: 'auth.keys.rotated', target: 'kid-1', outcome: 'success', metadata: { alg: 'EdDSA' }, personalHmac: null });
 */
export function auditRowHash(prevHash: string, fields: AuditHashedFields): string {
  const body = canonicalJson({
    id: fields.id,
    chain: fields.chain,
    seq: fields.seq,
    at: fields.at,
    actorUserId: fields.actorUserId,
    action: fields.action,
    target: fields.target,
    outcome: fields.outcome,
    metadata: fields.metadata,
    personalHmac: fields.personalHmac,
  });
  return createHash('sha256').update(prevHash, 'utf8').update(body, 'utf8').digest('hex');
}

/**
 * The hashed fields of a stored row (its metadata text parsed); throws if that text is not JSON.
 *
 * @example
 * const rows = await byok.store.audit.readChain(`user:${userId}`, 0, 100);
 * const intact = rows.every((row) => auditRowHash(row.prevHash, auditHashedFields(row)) === row.hash);
 */
export function auditHashedFields(row: AuditRow, metadata: Record<string, unknown> = JSON.parse(row.metadata) as Record<string, unknown>): AuditHashedFields {
  return {
    id: row.id,
    chain: row.chain,
    seq: row.seq,
    at: row.at,
    actorUserId: row.actorUserId,
    action: row.action,
    target: row.target,
    outcome: row.outcome,
    metadata,
    personalHmac: row.personalHmac,
  };
}

/**
 * `HMAC-SHA-256(salt, canonical {ip, userAgent})`, hex: what a chain row commits to in
 * place of the erasable personal data. `salt` is the hex salt of the data's owner.
 *
 * @example
 * auditPersonalHmac(await byok.store.audit.salt(userId), { ip: '203.0.113.7', userAgent: 'Firefox' })
 */
export function auditPersonalHmac(salt: string, personal: { ip: string | null; userAgent: string | null }): string {
  return createHmac('sha256', Buffer.from(salt, 'hex'))
    .update(canonicalJson({ ip: personal.ip, userAgent: personal.userAgent }), 'utf8')
    .digest('hex');
}

import type { AuditHead, AuditOutcome, AuditPersonalRow, AuditRow, IdentityRow, PreferencesRow, UserRow } from '../store';
import { parseSafeInteger } from './connect';

/** byok's table names under a prefix (default `byok_`). */
export interface TableNames {
  users: string;
  identities: string;
  userPreferences: string;
  auditLog: string;
  auditHeads: string;
  auditPersonal: string;
  auditSalts: string;
  providerKeys: string;
  chatSessions: string;
  chatMessages: string;
  chatContentKeys: string;
  migrations: string;
  migrationLock: string;
}

export function tableNames(prefix: string): TableNames {
  return {
    users: `${prefix}users`,
    identities: `${prefix}identities`,
    userPreferences: `${prefix}user_preferences`,
    auditLog: `${prefix}audit_log`,
    auditHeads: `${prefix}audit_heads`,
    auditPersonal: `${prefix}audit_personal`,
    auditSalts: `${prefix}audit_salts`,
    providerKeys: `${prefix}provider_keys`,
    chatSessions: `${prefix}chat_sessions`,
    chatMessages: `${prefix}chat_messages`,
    chatContentKeys: `${prefix}chat_content_keys`,
    migrations: `${prefix}migrations`,
    migrationLock: `${prefix}migration_lock`,
  };
}

/** BIGINT columns: numbers from our pools, strings from a host pg pool, bigints from some configs. */
export function num(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return parseSafeInteger(value);
  if (typeof value === 'bigint') return parseSafeInteger(value.toString());
  throw new TypeError('Expected an integer column');
}

/** Booleans are stored as SMALLINT 0/1 on every engine. */
export function bool(value: unknown): boolean {
  return value === 1 || value === true || value === '1';
}

export function flag(value: boolean): number {
  return value ? 1 : 0;
}

type DbRow = Record<string, unknown>;

const str = (value: unknown): string => value as string;
const strOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : (value as string));

export function toUserRow(r: DbRow): UserRow {
  return {
    id: str(r.id),
    email: strOrNull(r.email),
    emailVerified: bool(r.email_verified),
    name: strOrNull(r.name),
    pictureUrl: strOrNull(r.picture_url),
    custom: strOrNull(r.custom),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

export function fromUserRow(u: UserRow): DbRow {
  return {
    id: u.id,
    email: u.email,
    email_verified: flag(u.emailVerified),
    name: u.name,
    picture_url: u.pictureUrl,
    custom: u.custom,
    created_at: u.createdAt,
    updated_at: u.updatedAt,
  };
}

export function toIdentityRow(r: DbRow): IdentityRow {
  return {
    id: str(r.id),
    userId: str(r.user_id),
    issuer: str(r.issuer),
    subject: str(r.subject),
    email: strOrNull(r.email),
    emailVerified: bool(r.email_verified),
    createdAt: num(r.created_at),
    lastLoginAt: num(r.last_login_at),
  };
}

export function fromIdentityRow(i: IdentityRow): DbRow {
  return {
    id: i.id,
    user_id: i.userId,
    issuer: i.issuer,
    subject: i.subject,
    email: i.email,
    email_verified: flag(i.emailVerified),
    created_at: i.createdAt,
    last_login_at: i.lastLoginAt,
  };
}

export function toPreferencesRow(r: DbRow): PreferencesRow {
  return {
    userId: str(r.user_id),
    theme: str(r.theme) as PreferencesRow['theme'],
    language: str(r.language),
    timezone: str(r.timezone),
    updatedAt: num(r.updated_at),
  };
}

export function fromPreferencesRow(p: PreferencesRow): DbRow {
  return { user_id: p.userId, theme: p.theme, language: p.language, timezone: p.timezone, updated_at: p.updatedAt };
}

export function toAuditRow(r: DbRow): AuditRow {
  return {
    id: str(r.id),
    chain: str(r.chain),
    seq: num(r.seq),
    prevHash: str(r.prev_hash),
    hash: str(r.hash),
    at: num(r.at),
    actorUserId: strOrNull(r.actor_user_id),
    action: str(r.action),
    target: strOrNull(r.target),
    outcome: str(r.outcome) as AuditOutcome,
    metadata: str(r.metadata),
    personalHmac: strOrNull(r.personal_hmac),
  };
}

export function fromAuditRow(a: AuditRow): DbRow {
  return {
    id: a.id,
    chain: a.chain,
    seq: a.seq,
    prev_hash: a.prevHash,
    hash: a.hash,
    at: a.at,
    actor_user_id: a.actorUserId,
    action: a.action,
    target: a.target,
    outcome: a.outcome,
    metadata: a.metadata,
    personal_hmac: a.personalHmac,
  };
}

/** Maps a partial AuditRow (camelCase) to its columns; used by tamper tooling. */
export function auditPatchColumns(patch: Partial<AuditRow>): DbRow {
  const full = fromAuditRow({ ...(patch as AuditRow) });
  return Object.fromEntries(Object.entries(full).filter(([, value]) => value !== undefined));
}

export function toAuditHead(r: DbRow): AuditHead {
  return { chain: str(r.chain), lastSeq: num(r.last_seq), lastHash: str(r.last_hash) };
}

export function toAuditPersonalRow(r: DbRow): AuditPersonalRow {
  return { auditId: str(r.audit_id), ip: strOrNull(r.ip), userAgent: strOrNull(r.user_agent) };
}

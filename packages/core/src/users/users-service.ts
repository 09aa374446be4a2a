import { z } from 'zod';
import { ByokError } from '../errors';
import { NO_REQUEST_META } from '../http/request-meta';
import type { RequestMeta } from '../http/types';
import type { Store, UserRow } from '../store/store';
import { systemClock, type Clock } from '../util/clock';
import type { Sealer } from '../vault/sealer';
import type { ByokEventBus } from '../util/events';
import { uuidv7 } from '../util/ids';
import { DEFAULT_PREFERENCES, preferencesPatch, type Preferences, type PreferencesPatch } from './preferences-schema';
import { toUserProfile as toProfile, type UserProfile } from './user-profile';
import { deleteUserData, type DeleteUserDataOptions, type UserDataDeletion } from './user-data-deletion';
import { exportSessionMarkdown, exportUserData, type AuditTrailReader, type ChatContentOpener, type UserDataExport } from './user-data-export';

/** The audit recorder the users service needs (the audit service satisfies it). */
export interface UsersAuditRecorder {
  record(
    entry: {
      actorUserId: string | null;
      chainOwner?: string;
      action: string;
      target: string | null;
      outcome: 'success' | 'failure' | 'denied';
      metadata?: Record<string, unknown>;
      ip?: string | null;
      userAgent?: string | null;
    },
    tx?: Store,
  ): Promise<unknown>;
}

export { userProfileSchema, type UserProfile } from './user-profile';

/** What an identity provider asserted at sign-in. */
export interface IdentityClaims {
  issuer: string;
  subject: string;
  email?: string | null;
  emailVerified?: boolean;
  name?: string | null;
  picture?: string | null;
}

export interface UsersOptions {
  /**
   * Validates the host-defined `custom` profile field (any zod schema). Without one,
   * `custom` must be a JSON object of at most 16 KiB.
   */
  customSchema?: z.ZodType;
  /** Veto hook: throw or return false to refuse creating a user. */
  beforeUserCreate?: (claims: IdentityClaims) => boolean | void | Promise<boolean | void>;
}

const defaultCustom = z.record(z.string(), z.unknown()).refine((v) => JSON.stringify(v).length <= 16 * 1024, 'custom is larger than 16 KiB');

const profilePatch = z
  .object({
    name: z.string().trim().min(1).max(200).nullable().optional(),
    pictureUrl: z.url({ protocol: /^https?$/ }).max(2048).nullable().optional(),
    custom: z.unknown().optional(),
  })
  .strict();
export type ProfilePatch = z.input<typeof profilePatch>;

/** What a {@link UsersService} is built from. */
export interface UsersServiceDeps {
  store: Store;
  /** Records every change; its `list` is read for the user's own trail in a data export. */
  audit: UsersAuditRecorder & AuditTrailReader;
  events: ByokEventBus;
  clock?: Clock;
  options?: UsersOptions;
  /** Dropped from its data-key cache when a user is deleted. */
  sealer?: Pick<Sealer, 'evictUser'>;
  /** Opens sealed chat content for an export (`memory.sealContent`); by default the columns are read as stored. */
  openChatContent?: ChatContentOpener;
}

/**
 * Users, their identities and preferences. Every method takes the acting user's id
 * first and never reveals whether another user's row exists.
 */
export class UsersService {
  private readonly store: Store;
  private readonly audit: UsersAuditRecorder & AuditTrailReader;
  private readonly events: ByokEventBus;
  private readonly clock: Clock;
  private readonly options: UsersOptions;
  private readonly sealer: Pick<Sealer, 'evictUser'> | undefined;
  private readonly openChatContent: ChatContentOpener | undefined;

  /**
   * @example
   * const users = new UsersService({ store, audit, events, clock, sealer, options: { customSchema } });
   */
  constructor(deps: UsersServiceDeps) {
    this.store = deps.store;
    this.audit = deps.audit;
    this.events = deps.events;
    this.clock = deps.clock ?? systemClock;
    this.options = deps.options ?? {};
    this.sealer = deps.sealer;
    this.openChatContent = deps.openChatContent;
  }

  /**
   * Finds the user behind (issuer, subject) or creates one, refreshing the profile from
   * the claims at each sign-in. Never matches by email.
   */
  async findOrCreate(claims: IdentityClaims, meta: RequestMeta = NO_REQUEST_META): Promise<{ user: UserProfile; created: boolean }> {
    const now = this.clock.now();
    const existing = await this.store.users.findByIdentity(claims.issuer, claims.subject);
    if (existing) {
      const updated = await this.store.transaction(async (tx) => {
        await tx.users.touchIdentity(existing.user.id, existing.identity.id, {
          email: claims.email ?? null,
          emailVerified: claims.emailVerified ?? false,
          lastLoginAt: now,
        });
        return tx.users.update(existing.user.id, {
          email: claims.email ?? existing.user.email,
          emailVerified: claims.email ? (claims.emailVerified ?? false) : existing.user.emailVerified,
          name: claims.name ?? existing.user.name,
          pictureUrl: claims.picture ?? existing.user.pictureUrl,
          updatedAt: now,
        });
      });
      if (!updated) throw new ByokError('not_found', 'User not found');
      return { user: toProfile(updated), created: false };
    }
    if (this.options.beforeUserCreate) {
      const verdict = await this.options.beforeUserCreate(claims);
      if (verdict === false) throw new ByokError('hook_rejected', 'Sign-up was refused by the application');
    }
    const user: UserRow = {
      id: uuidv7(now),
      email: claims.email ?? null,
      emailVerified: claims.emailVerified ?? false,
      name: claims.name ?? null,
      pictureUrl: claims.picture ?? null,
      custom: null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.store.transaction(async (tx) => {
        await tx.users.createWithIdentity(user, {
          id: uuidv7(now),
          userId: user.id,
          issuer: claims.issuer,
          subject: claims.subject,
          email: claims.email ?? null,
          emailVerified: claims.emailVerified ?? false,
          createdAt: now,
          lastLoginAt: now,
        });
        await this.audit.record(
          { actorUserId: user.id, action: 'user.created', target: user.id, outcome: 'success', metadata: { issuer: claims.issuer }, ...meta },
          tx,
        );
      });
    } catch (error) {
      // Two sign-ins of a new identity raced: the other one created the user.
      if ((error as { code?: string }).code === 'conflict') {
        const winner = await this.store.users.findByIdentity(claims.issuer, claims.subject);
        if (winner) return { user: toProfile(winner.user), created: false };
      }
      throw error;
    }
    this.events.emit('user.created', { userId: user.id, issuer: claims.issuer });
    return { user: toProfile(user), created: true };
  }

  /** The user's own profile; `not_found` for any other id. */
  async get(userId: string): Promise<UserProfile> {
    const row = await this.store.users.get(userId);
    if (!row) throw new ByokError('not_found', 'User not found');
    return toProfile(row);
  }

  /** Updates name, picture and the host-validated `custom` field. */
  async update(userId: string, patch: ProfilePatch, meta: RequestMeta = NO_REQUEST_META): Promise<UserProfile> {
    const parsed = profilePatch.safeParse(patch);
    if (!parsed.success) throw new ByokError('validation_failed', `Invalid profile (${parsed.error.issues.map((i) => i.path.join('.') || 'input').join(', ')})`);
    const fields = Object.keys(parsed.data).filter((k) => (parsed.data as Record<string, unknown>)[k] !== undefined);
    let custom: string | undefined;
    if (parsed.data.custom !== undefined) {
      const schema = this.options.customSchema ?? defaultCustom;
      const checked = schema.safeParse(parsed.data.custom);
      if (!checked.success) throw new ByokError('validation_failed', 'Invalid custom profile data');
      custom = JSON.stringify(checked.data);
    }
    const now = this.clock.now();
    const row = await this.store.transaction(async (tx) => {
      const updated = await tx.users.update(userId, {
        ...(parsed.data.name !== undefined ? { name: parsed.data.name } : {}),
        ...(parsed.data.pictureUrl !== undefined ? { pictureUrl: parsed.data.pictureUrl } : {}),
        ...(custom !== undefined ? { custom } : {}),
        updatedAt: now,
      });
      if (!updated) throw new ByokError('not_found', 'User not found');
      await this.audit.record({ actorUserId: userId, action: 'user.updated', target: userId, outcome: 'success', metadata: { fields }, ...meta }, tx);
      return updated;
    });
    this.events.emit('user.updated', { userId, fields });
    return toProfile(row);
  }

  /** The user's preferences, defaults when never set. */
  async getPreferences(userId: string): Promise<Preferences> {
    const row = await this.store.preferences.get(userId);
    if (row) return { theme: row.theme, language: row.language, timezone: row.timezone, updatedAt: row.updatedAt };
    if (!(await this.store.users.get(userId))) throw new ByokError('not_found', 'User not found');
    return { ...DEFAULT_PREFERENCES, updatedAt: 0 };
  }

  /** Validates and stores a subset of preferences (theme, BCP 47 language, IANA time zone). */
  async updatePreferences(userId: string, patch: PreferencesPatch, meta: RequestMeta = NO_REQUEST_META): Promise<Preferences> {
    const parsed = preferencesPatch.safeParse(patch);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ByokError('validation_failed', `Invalid preferences (${issue ? `${issue.path.join('.') || 'input'}: ${issue.message}` : 'input'})`);
    }
    const fields = Object.keys(parsed.data);
    const now = this.clock.now();
    const next = await this.store.transaction(async (tx) => {
      if (!(await tx.users.get(userId))) throw new ByokError('not_found', 'User not found');
      const current = (await tx.preferences.get(userId)) ?? { userId, ...DEFAULT_PREFERENCES, updatedAt: 0 };
      const row = { ...current, ...parsed.data, userId, updatedAt: now };
      await tx.preferences.put(row);
      await this.audit.record({ actorUserId: userId, action: 'preferences.updated', target: userId, outcome: 'success', metadata: { fields }, ...meta }, tx);
      return row;
    });
    this.events.emit('preferences.updated', { userId, fields });
    return { theme: next.theme, language: next.language, timezone: next.timezone, updatedAt: next.updatedAt };
  }

  /**
   * Every row byok keeps about the user, as one JSON document (see `userDataExportSchema`):
   * profile, identities, preferences, provider keys as their status only (never the key or
   * its sealed value), signed-in devices, the issuers' token dates, every chat session with
   * every branch of messages, and the user's own audit trail. Each query is scoped by the
   * user's id. Recorded as `user.exported` on the user's chain.
   *
   * @example
   * import { writeFile } from 'node:fs/promises';
   * const data = await byok.users.exportUserData(userId);
   * await writeFile('my-data.json', JSON.stringify(data, null, 2));
   */
  async exportUserData(userId: string, meta: RequestMeta = NO_REQUEST_META): Promise<UserDataExport> {
    return exportUserData(this.exportDeps(), userId, meta);
  }

  /**
   * One of the user's chat sessions as Markdown: the branch shown (its active path), oldest
   * message first. Another user's session is `not_found`. Recorded as `user.exported`.
   *
   * @example
   * const [session] = (await byok.users.exportUserData(userId)).chatSessions;
   * if (session) await byok.users.exportSessionMarkdown(userId, session.id);
   */
  async exportSessionMarkdown(userId: string, sessionId: string, meta: RequestMeta = NO_REQUEST_META): Promise<string> {
    return exportSessionMarkdown(this.exportDeps(), userId, sessionId, meta);
  }

  /**
   * Deletes the user and every row of theirs in one transaction (cascade: identities,
   * preferences, provider keys, sign-in sessions, issuer tokens, chat sessions and
   * messages). The deletion is recorded on the system chain with counts only; the user's
   * audit rows stay, but their personal side rows and the user's HMAC salt are erased, so
   * they identify no one and every chain still verifies.
   *
   * @example
   * const removed = await byok.users.deleteUserData(userId); // { sessions, messages, providerKeys }
   */
  async deleteUserData(userId: string, options: DeleteUserDataOptions = {}): Promise<UserDataDeletion> {
    const removed = await deleteUserData({ store: this.store, audit: this.audit }, userId, options);
    this.sealer?.evictUser(userId);
    this.events.emit('user.deleted', { userId });
    return removed;
  }

  /** {@link deleteUserData}, without the counts. */
  async delete(userId: string): Promise<void> {
    await this.deleteUserData(userId);
  }

  private exportDeps() {
    return { store: this.store, audit: this.audit, clock: this.clock, ...(this.openChatContent ? { openChatContent: this.openChatContent } : {}) };
  }
}

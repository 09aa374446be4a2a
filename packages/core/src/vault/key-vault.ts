import { z } from 'zod';
import { ByokError } from '../errors';
import { NO_REQUEST_META } from '../http/request-meta';
import type { RequestMeta } from '../http/types';
import type { KeyValidation, LlmProvider } from '../llm/llm-provider';
import type { ProviderKeyForUse, ProviderKeyRow } from '../store/provider-keys-repository';
import type { Store } from '../store/store';
import type { UsersAuditRecorder } from '../users/users-service';
import { systemClock, type Clock } from '../util/clock';
import { uuidv7 } from '../util/ids';
import { keyFingerprint, keyLast4 } from './key-fingerprint';
import type { Sealer } from './sealer';
import { SealedTextMemo } from './sealed-text-memo';
import type { SealContext } from './seal-context';

/** What byok shows about a stored key: never the key itself. */
export const keyStatusSchema = z.object({
  provider: z.string(),
  last4: z.string(),
  fingerprint: z.string(),
  status: z.enum(['valid', 'invalid', 'unverified']),
  statusReason: z.string().nullable(),
  validatedAt: z.number().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type KeyStatus = z.infer<typeof keyStatusSchema>;

export const keyTestResultSchema = z.object({
  provider: z.string(),
  status: z.enum(['valid', 'invalid', 'unverified']),
  reason: z.string().nullable(),
  stored: z.boolean(),
});
export type KeyTestResult = z.infer<typeof keyTestResultSchema>;

export interface KeyVaultOptions {
  /**
   * Store a key the provider could not verify (network error, timeout, 429, 5xx) with
   * status `unverified` and its reason. Default true; false refuses it (`key_unverified`).
   */
  allowUnverified?: boolean;
  /** Time allowed for a validation call. Default 10 s. */
  validationTimeoutMs?: number;
}

/** What a {@link KeyVault} is built from. */
export interface KeyVaultDeps {
  store: Store;
  sealer: Sealer;
  audit: UsersAuditRecorder;
  /** Model providers users can store keys for. Default none. */
  providers?: readonly LlmProvider[];
  clock?: Clock;
  options?: KeyVaultOptions;
}

const PROVIDER_ID = /^[a-z0-9][a-z0-9._-]{0,31}$/;
/** API keys are printable ASCII without spaces; 8–1024 characters. */
const API_KEY = /^[\x21-\x7e]{8,1024}$/;

/**
 * Users' model API keys: validated against the provider, sealed under the KMS, shown
 * only as last-4 and fingerprint, and handed to code only inside {@link withKey}.
 */
export class KeyVault {
  private readonly store: Store;
  private readonly sealer: Sealer;
  private readonly audit: UsersAuditRecorder;
  private readonly clock: Clock;
  private readonly options: KeyVaultOptions;
  private readonly providers: Map<string, LlmProvider>;
  /** Stored sealed text → bytes, so a key used turn after turn is not decoded every time. */
  private readonly sealedBytes = new SealedTextMemo();

  constructor(deps: KeyVaultDeps) {
    this.store = deps.store;
    this.sealer = deps.sealer;
    this.audit = deps.audit;
    this.clock = deps.clock ?? systemClock;
    this.options = deps.options ?? {};
    this.providers = new Map((deps.providers ?? []).map((p) => [p.id, p]));
  }

  /** The ids of the configured providers. */
  providerIds(): string[] {
    return [...this.providers.keys()];
  }

  /**
   * Validates `apiKey` with the provider and stores it sealed, replacing the user's
   * previous key for that provider. A key the provider calls invalid is refused.
   *
   * @example
   * const status = await byok.keyVault.setKey(userId, 'gemini', apiKey);
   * status.last4; // '…9xQz'
   */
  async setKey(userId: string, providerId: string, apiKey: string, meta: RequestMeta = NO_REQUEST_META): Promise<KeyStatus> {
    const provider = this.provider(providerId);
    checkKeyShape(apiKey);
    const validation = await this.validate(provider, apiKey);
    const auditBase = { actorUserId: userId, action: 'key.set', target: providerId, ...meta } as const;
    if (validation.status === 'invalid' || (validation.status === 'unverified' && this.options.allowUnverified === false)) {
      await this.audit.record({ ...auditBase, outcome: 'failure', metadata: { provider: providerId, status: validation.status } });
      if (validation.status === 'invalid') throw new ByokError('key_invalid', `The ${providerId} key was rejected by the provider`);
      throw new ByokError('key_unverified', `The ${providerId} key could not be verified (${validation.reason}); try again later`);
    }
    const now = this.clock.now();
    const id = uuidv7(now);
    const ctx: SealContext = { purpose: 'provider_key', userId, provider: providerId, recordId: id };
    const sealed = await this.sealer.seal(apiKey, ctx);
    const info = this.sealer.keyVersionOf(sealed);
    const row: ProviderKeyRow = {
      id,
      userId,
      provider: providerId,
      sealed: sealed.toString('base64url'),
      kek: kekLabel(info),
      last4: keyLast4(apiKey),
      fingerprint: keyFingerprint(apiKey),
      status: validation.status,
      statusReason: validation.status === 'valid' ? null : validation.reason,
      validatedAt: validation.status === 'valid' ? now : null,
      createdAt: now,
      updatedAt: now,
    };
    const replaced = await this.store.transaction(async (tx) => {
      if (!(await tx.users.get(userId))) throw new ByokError('not_found', 'User not found');
      const previous = await tx.providerKeys.replace(row);
      await this.audit.record(
        { ...auditBase, outcome: 'success', metadata: { provider: providerId, last4: row.last4, fingerprint: row.fingerprint, status: row.status, replaced: previous !== null } },
        tx,
      );
      return previous;
    });
    if (replaced) this.sealer.evictRecord(replaced);
    return toStatus(row);
  }

  /**
   * Asks the provider whether a key works: the candidate when given (nothing is
   * stored), otherwise the stored key, whose status is then updated.
   */
  async testKey(userId: string, providerId: string, candidate?: string, meta: RequestMeta = NO_REQUEST_META): Promise<KeyTestResult> {
    const provider = this.provider(providerId);
    let validation: KeyValidation;
    let stored = false;
    if (candidate !== undefined) {
      checkKeyShape(candidate);
      validation = await this.validate(provider, candidate);
    } else {
      const row = await this.store.providerKeys.get(userId, providerId);
      if (!row) throw new ByokError('key_missing', `No ${providerId} key is stored`);
      validation = await this.open(row, (key) => this.validate(provider, key));
      stored = true;
      const now = this.clock.now();
      await this.store.providerKeys.setStatus(userId, row.id, {
        status: validation.status,
        statusReason: validation.status === 'valid' ? null : validation.reason,
        validatedAt: validation.status === 'valid' ? now : row.validatedAt,
        updatedAt: now,
      });
    }
    await this.audit.record({
      actorUserId: userId,
      action: 'key.tested',
      target: providerId,
      outcome: validation.status === 'valid' ? 'success' : 'failure',
      metadata: { provider: providerId, status: validation.status, ...(validation.status === 'valid' ? {} : { reason: reasonCode(validation) }) },
      ...meta,
    });
    return { provider: providerId, status: validation.status, reason: validation.status === 'valid' ? null : validation.reason, stored };
  }

  /** The stored key's status for one provider; `key_missing` when there is none. */
  async getStatus(userId: string, providerId: string): Promise<KeyStatus> {
    const row = await this.store.providerKeys.get(userId, providerId);
    if (!row) throw new ByokError('key_missing', `No ${providerId} key is stored`);
    return toStatus(row);
  }

  /** The status of every key the user has stored. */
  async listStatuses(userId: string): Promise<KeyStatus[]> {
    return (await this.store.providerKeys.list(userId)).map(toStatus);
  }

  /** Removes the user's key for a provider; `key_missing` when there is none. */
  async removeKey(userId: string, providerId: string, meta: RequestMeta = NO_REQUEST_META): Promise<void> {
    const removed = await this.store.transaction(async (tx) => {
      const id = await tx.providerKeys.delete(userId, providerId);
      if (id === null) throw new ByokError('key_missing', `No ${providerId} key is stored`);
      await this.audit.record({ actorUserId: userId, action: 'key.removed', target: providerId, outcome: 'success', metadata: { provider: providerId }, ...meta }, tx);
      return id;
    });
    this.sealer.evictRecord(removed);
  }

  /**
   * Runs `fn` with the user's plaintext key for `provider`: the only way code ever sees
   * it. Refusals (no key, a key known to be invalid) are audited.
   *
   * @example
   * import { gemini } from '@byok/gemini';
   * const provider = gemini();
   * const reply = await byok.keyVault.withKey(userId, 'gemini', (apiKey) =>
   *   provider.generate(apiKey, { messages: [{ role: 'user', parts: [{ type: 'text', text: 'Hello' }] }] }),
   * );
   */
  async withKey<T>(userId: string, providerId: string, fn: (apiKey: string) => Promise<T> | T): Promise<T> {
    const keys = this.store.providerKeys;
    const row = await (keys.getForUse ? keys.getForUse(userId, providerId) : keys.get(userId, providerId));
    if (!row || row.status === 'invalid') {
      const reason = row ? 'key_invalid' : 'key_missing';
      await this.audit.record({ actorUserId: userId, action: 'key.use_refused', target: providerId, outcome: 'denied', metadata: { provider: providerId, reason } });
      throw row
        ? new ByokError('key_invalid', `The stored ${providerId} key was rejected by the provider; set a new one`)
        : new ByokError('key_missing', `No ${providerId} key is stored`);
    }
    return this.open(row, fn);
  }

  private async open<T>(row: ProviderKeyForUse, fn: (apiKey: string) => Promise<T> | T): Promise<T> {
    const plaintext = await this.sealer.open(this.sealedBytes.bytesOf(row.sealed), {
      purpose: 'provider_key',
      userId: row.userId,
      provider: row.provider,
      recordId: row.id,
    });
    try {
      return await fn(plaintext.toString('utf8'));
    } finally {
      plaintext.fill(0);
    }
  }

  private provider(providerId: string): LlmProvider {
    const provider = PROVIDER_ID.test(providerId) ? this.providers.get(providerId) : undefined;
    if (!provider) throw new ByokError('validation_failed', `Unknown provider; configured: ${this.providerIds().join(', ') || 'none'}`);
    return provider;
  }

  private async validate(provider: LlmProvider, apiKey: string): Promise<KeyValidation> {
    return provider.validateKey(apiKey, { timeoutMs: this.options.validationTimeoutMs ?? 10_000 });
  }
}

function checkKeyShape(apiKey: unknown): asserts apiKey is string {
  if (typeof apiKey !== 'string' || !API_KEY.test(apiKey)) {
    throw new ByokError('validation_failed', 'apiKey must be 8–1024 printable characters without spaces');
  }
}

function reasonCode(validation: KeyValidation): string {
  return validation.status === 'invalid' ? 'key_invalid' : 'provider_unavailable';
}

/** `driver:keyId:version`, the label stored next to each sealed value. */
export function kekLabel(info: { driverId: string; keyId: string; keyVersion: number }): string {
  return `${info.driverId}:${info.keyId}:${info.keyVersion}`;
}

function toStatus(row: ProviderKeyRow): KeyStatus {
  return {
    provider: row.provider,
    last4: row.last4,
    fingerprint: row.fingerprint,
    status: row.status,
    statusReason: row.statusReason,
    validatedAt: row.validatedAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

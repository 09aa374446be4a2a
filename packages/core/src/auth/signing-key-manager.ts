import { ByokError } from '../errors';
import type { SigningKeyRow, SigningKeysRepository } from '../store/auth-repositories';
import type { Clock } from '../util/clock';
import type { Logger } from '../util/logger';
import type { Sealer } from '../vault/sealer';
import { exportPrivate, generateSigningKey, importPrivate, KeyRing, type SigningAlg, type SigningKey } from './signing-keys';

/** Options of {@link SigningKeyManager}. */
export interface SigningKeyManagerOptions {
  alg: SigningAlg;
  repository: SigningKeysRepository;
  sealer: Pick<Sealer, 'sealSigningKey' | 'openSigningKey'>;
  clock: Clock;
  /** Minimum time between two reloads from the store (unknown `kid`, periodic refresh). Default 30 s. */
  reloadIntervalMs?: number;
  /** A rotated key is published this long before it signs (default 60 s, longer than the reload interval). */
  publishDelayMs?: number;
  /** Retired keys are deleted this long after retirement (default 1 day); they verify until then. */
  retiredKeepMs?: number;
  /** Told about stored keys that cannot be opened (they are skipped). */
  logger?: Logger;
}

/**
 * The signing keys in the store, sealed by the vault, and the {@link KeyRing} built from
 * them. Rotation publishes the new key first (`not_before` in the future) and retires the
 * old one at that moment; revocation deletes a key so its tokens stop verifying. Every
 * instance reloads on an unknown `kid` (rate-limited) and periodically, so a rotation by
 * one instance or by `byok keys rotate` reaches the others.
 *
 * @example
 * const keys = new SigningKeyManager({ alg: 'EdDSA', repository: store.signingKeys, sealer, clock });
 * await keys.start();
 * keys.ring.current().kid;
 */
export class SigningKeyManager {
  readonly ring: KeyRing;
  readonly alg: SigningAlg;
  readonly #repo: SigningKeysRepository;
  readonly #sealer: SigningKeyManagerOptions['sealer'];
  readonly #clock: Clock;
  readonly #publishDelayMs: number;
  readonly #retiredKeepMs: number;
  readonly #reloadIntervalMs: number;
  readonly #logger: Logger | undefined;
  #loadedAt = Number.NEGATIVE_INFINITY;
  #ready: Promise<void> | null = null;
  /** Imported keys by kid: a reload opens (unwraps) only keys it has not seen. */
  readonly #imported = new Map<string, SigningKey>();

  constructor(options: SigningKeyManagerOptions) {
    this.alg = options.alg;
    this.#repo = options.repository;
    this.#sealer = options.sealer;
    this.#clock = options.clock;
    this.#publishDelayMs = options.publishDelayMs ?? 60_000;
    this.#retiredKeepMs = options.retiredKeepMs ?? 86_400_000;
    this.#reloadIntervalMs = options.reloadIntervalMs ?? 30_000;
    this.#logger = options.logger;
    this.ring = new KeyRing({
      alg: options.alg,
      load: () => this.#load(),
      reloadIntervalMs: this.#reloadIntervalMs,
      clock: options.clock,
    });
  }

  /**
   * Loads the keys once (see {@link start}); every signing and verifying path awaits it,
   * so a store that is not migrated yet (e.g. during `byok migrate`) fails only on use.
   * A failed load is retried on the next call.
   */
  ready(): Promise<void> {
    this.#ready ??= this.start().catch((error: unknown) => {
      this.#ready = null;
      throw error;
    });
    return this.#ready;
  }

  /** Loads the stored keys; creates the first one when none of this algorithm is usable. */
  async start(): Promise<void> {
    this.ring.replace(await this.#load());
    if (!this.#hasActive()) await this.#create(this.#clock.now());
  }

  /**
   * The key to sign with now. Reloads from the store when the last load is older than the
   * reload interval, so keys rotated elsewhere are picked up before they start signing.
   */
  async signingRing(): Promise<KeyRing> {
    await this.ready();
    if (this.#clock.now() - this.#loadedAt >= this.#reloadIntervalMs) await this.ring.reload();
    if (!this.#hasActive()) await this.#create(this.#clock.now());
    return this.ring;
  }

  /** Whether the last load from the store is older than the reload interval. */
  reloadDue(): boolean {
    return this.#ready === null || this.#clock.now() - this.#loadedAt >= this.#reloadIntervalMs;
  }

  /**
   * The ring for verification. Once per reload interval it reloads from the store first,
   * so keys revoked or rotated elsewhere take effect here even on an instance that only
   * verifies. Between reloads this is one clock read.
   */
  async verifyingRing(): Promise<KeyRing> {
    await this.ready();
    if (this.reloadDue()) {
      try {
        await this.ring.reload();
      } catch (error) {
        this.#logger?.warn({ err: error }, 'byok auth: reloading signing keys failed; using the keys already loaded');
      }
    }
    return this.ring;
  }

  /**
   * Creates a new key that starts signing after the publish delay, and retires the current
   * one at that moment. Keys retired long ago are deleted.
   *
   * @returns the new key's kid and the previous signing key's kid
   */
  async rotate(options: { publishDelayMs?: number } = {}): Promise<{ kid: string; previousKid: string | null; notBefore: number }> {
    await this.ready();
    const now = this.#clock.now();
    await this.#reloadNow();
    let previous: SigningKey | null = null;
    try {
      previous = this.ring.current();
    } catch {
      previous = null;
    }
    const notBefore = now + (options.publishDelayMs ?? this.#publishDelayMs);
    const key = await this.#create(notBefore);
    if (previous) {
      await this.#repo.retire(previous.kid, notBefore);
    }
    for (const row of await this.#repo.list()) {
      if (row.retiredAt !== null && row.retiredAt + this.#retiredKeepMs < now) await this.#repo.delete(row.id);
    }
    await this.#reloadNow();
    return { kid: key.kid, previousKid: previous?.kid ?? null, notBefore };
  }

  /**
   * Deletes a key: tokens signed with it stop verifying here at once and on other
   * instances at their next reload. A new key is created when no usable one remains.
   *
   * @throws ByokError `not_found` for an unknown kid
   */
  async revoke(kid: string): Promise<void> {
    await this.ready();
    if (!(await this.#repo.delete(kid))) throw new ByokError('not_found', 'No such signing key');
    this.#imported.delete(kid);
    this.ring.remove(kid);
    if (!this.#hasActive()) await this.#create(this.#clock.now());
  }

  /** The stored keys' public facts (never the sealed private part). */
  async list(): Promise<Array<{ kid: string; alg: string; createdAt: number; notBefore: number; retiredAt: number | null }>> {
    return (await this.#repo.list()).map((r) => ({ kid: r.id, alg: r.alg, createdAt: r.createdAt, notBefore: r.notBefore, retiredAt: r.retiredAt }));
  }

  async #reloadNow(): Promise<void> {
    this.ring.replace(await this.#load());
  }

  #hasActive(): boolean {
    const now = this.#clock.now();
    return this.ring.list().some((k) => k.notBefore <= now && (k.retiredAt === null || k.retiredAt > now));
  }

  async #create(notBefore: number): Promise<SigningKey> {
    const now = this.#clock.now();
    const key = await generateSigningKey(this.alg, { clock: this.#clock, createdAt: now, notBefore });
    const sealed = await this.#sealer.sealSigningKey(await exportPrivate(key), { kid: key.kid });
    const row: SigningKeyRow = {
      id: key.kid,
      alg: key.alg,
      publicJwk: key.publicJwk === null ? null : JSON.stringify(key.publicJwk),
      privateSealed: Buffer.from(sealed).toString('base64url'),
      createdAt: key.createdAt,
      notBefore: key.notBefore,
      retiredAt: null,
    };
    await this.#repo.insert(row);
    this.#imported.set(key.kid, key);
    this.ring.add(key);
    return key;
  }

  async #load(): Promise<SigningKey[]> {
    this.#loadedAt = this.#clock.now();
    const rows = (await this.#repo.list()).filter((r) => r.alg === this.alg);
    const keys: SigningKey[] = [];
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.id);
      let key = this.#imported.get(row.id);
      if (!key) {
        try {
          const json = await this.#sealer.openSigningKey(Buffer.from(row.privateSealed, 'base64url'), { kid: row.id });
          key = await importPrivate(json, { kid: row.id, createdAt: row.createdAt, notBefore: row.notBefore, retiredAt: row.retiredAt });
        } catch (error) {
          this.#logger?.warn({ err: error, kid: row.id }, 'byok auth: a stored signing key could not be opened; skipped');
          continue;
        }
        this.#imported.set(row.id, key);
      }
      if (key.retiredAt !== row.retiredAt || key.notBefore !== row.notBefore) {
        key = Object.freeze({ ...key, retiredAt: row.retiredAt, notBefore: row.notBefore });
        this.#imported.set(row.id, key);
      }
      keys.push(key);
    }
    for (const kid of [...this.#imported.keys()]) if (!seen.has(kid)) this.#imported.delete(kid);
    return keys;
  }
}

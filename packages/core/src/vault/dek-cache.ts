import type { KeyObject } from 'node:crypto';
import { ByokError } from '../errors';
import { systemClock, type Clock } from '../util/clock';

/** Bounds of the data-key cache. */
export interface DekCacheOptions {
  /** Most entries held; the least recently used goes first (default 1000). */
  maxEntries?: number;
  /** Age after which an entry is dropped (default 5 minutes). */
  maxAgeMs?: number;
  /** Opens one entry may serve before it is dropped (default 10,000). */
  maxUses?: number;
  clock?: Clock;
}

/** What an entry is about (no key material), for eviction predicates. */
export interface DekCacheEntryInfo {
  readonly driverId: string;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly purpose: string;
  readonly userId: string;
  /** The provider or token kind. */
  readonly subject: string;
  readonly recordId: string;
  readonly createdAt: number;
}

/** Cache counters. */
export interface DekCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  size: number;
}

/**
 * A bounded LRU of unwrapped data keys, held as `KeyObject`s (never plaintext secrets).
 * An entry is found by a slot number (taken from the sealed value's payload tag) and
 * then verified against the exact key-section bytes (driver, key id, key version,
 * wrapped key) and the exact context fields, so a hit can never hand out a key for
 * another record, context or header. The sealer is the one caller of `lookup`/`store`.
 */
export interface DekCache {
  /**
   * The cached entry for a sealed value, counting one use; `undefined` when absent,
   * expired, used up, or when the key section or context differ from the entry's.
   */
  lookup(slot: number, keySection: Buffer, keySectionEnd: number, purpose: string, userId: string, subject: string, recordId: string): DekCacheHit | undefined;
  /** Stores a data key; `keySection` and `aad` are copied. */
  store(slot: number, keySection: Buffer, aad: Buffer, key: KeyObject, info: Omit<DekCacheEntryInfo, 'createdAt'>): void;
  /** Drops every entry the predicate selects (key removal, user deletion, rewrap); returns how many. */
  evict(predicate: (info: DekCacheEntryInfo) => boolean): number;
  /** Drops every entry, or those of one driver. */
  flush(driverId?: string): number;
  readonly size: number;
  stats(): DekCacheStats;
}

/** A cache hit: the data key, the payload AAD it was stored with, and what it is about. */
export interface DekCacheHit {
  readonly key: KeyObject;
  readonly aad: Buffer;
  readonly info: DekCacheEntryInfo;
}

interface Entry extends DekCacheHit {
  keySection: Buffer;
  uses: number;
}

/**
 * Creates a bounded data-key cache.
 *
 * @example
 * const cache = createDekCache({ maxEntries: 500, maxAgeMs: 60_000, maxUses: 1000 });
 * const sealer = createSealer({ kms: localKms(), cache });
 * cache.evict((e) => e.userId === deletedUserId);
 */
export function createDekCache(options: DekCacheOptions = {}): DekCache {
  const maxEntries = bound(options.maxEntries ?? 1000, 'maxEntries', 1);
  const maxAgeMs = bound(options.maxAgeMs ?? 300_000, 'maxAgeMs', 0);
  const maxUses = bound(options.maxUses ?? 10_000, 'maxUses', 1);
  const clock = options.clock ?? systemClock;
  const entries = new Map<number, Entry>();
  let hits = 0;
  let misses = 0;
  let evictions = 0;

  return {
    lookup(slot, keySection, keySectionEnd, purpose, userId, subject, recordId) {
      const entry = entries.get(slot);
      if (
        entry === undefined ||
        entry.info.recordId !== recordId ||
        entry.info.userId !== userId ||
        entry.info.subject !== subject ||
        entry.info.purpose !== purpose ||
        entry.keySection.length !== keySectionEnd ||
        entry.keySection.compare(keySection, 0, keySectionEnd) !== 0
      ) {
        misses++;
        return undefined;
      }
      entries.delete(slot);
      if (clock.now() - entry.info.createdAt > maxAgeMs || entry.uses >= maxUses) {
        evictions++;
        misses++;
        return undefined;
      }
      entry.uses++;
      entries.set(slot, entry);
      hits++;
      return entry;
    },
    store(slot, keySection, aad, key, info) {
      entries.delete(slot);
      entries.set(slot, { key, aad: Buffer.from(aad), keySection: Buffer.from(keySection), info: { ...info, createdAt: clock.now() }, uses: 0 });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next().value as number;
        entries.delete(oldest);
        evictions++;
      }
    },
    evict(predicate) {
      let n = 0;
      for (const [k, entry] of entries) {
        if (predicate(entry.info)) {
          entries.delete(k);
          n++;
        }
      }
      evictions += n;
      return n;
    },
    flush(driverId) {
      if (driverId === undefined) {
        const n = entries.size;
        entries.clear();
        evictions += n;
        return n;
      }
      return this.evict((info) => info.driverId === driverId);
    },
    get size() {
      return entries.size;
    },
    stats() {
      return { hits, misses, evictions, size: entries.size };
    },
  };
}

function bound(value: number, name: string, min: number): number {
  if (!Number.isFinite(value) || value < min) {
    throw new ByokError('config_invalid', `DEK cache: ${name} must be a number ≥ ${min}`);
  }
  return value;
}

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
  readonly slot: number;
  readonly keySection: Buffer;
  uses: number;
  /** Neighbours in recency order (the list runs from `oldest` to `newest`). */
  older: Entry | undefined;
  newer: Entry | undefined;
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
  // Recency is a doubly linked list through the entries, so a hit moves its entry to the
  // newest end with a few pointer writes (re-inserting into the Map costs far more, and
  // the lookup runs on every `withKey`).
  const entries = new Map<number, Entry>();
  let oldest: Entry | undefined;
  let newest: Entry | undefined;
  let hits = 0;
  let misses = 0;
  let evictions = 0;

  function unlink(entry: Entry): void {
    if (entry.older) entry.older.newer = entry.newer;
    else oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else newest = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
  }

  function append(entry: Entry): void {
    entry.older = newest;
    if (newest) newest.newer = entry;
    else oldest = entry;
    newest = entry;
  }

  function remove(entry: Entry): void {
    entries.delete(entry.slot);
    unlink(entry);
  }

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
      if (clock.now() - entry.info.createdAt > maxAgeMs || entry.uses >= maxUses) {
        remove(entry);
        evictions++;
        misses++;
        return undefined;
      }
      entry.uses++;
      if (entry !== newest) {
        unlink(entry);
        append(entry);
      }
      hits++;
      return entry;
    },
    store(slot, keySection, aad, key, info) {
      const previous = entries.get(slot);
      if (previous) remove(previous);
      const entry: Entry = {
        slot,
        key,
        aad: Buffer.from(aad),
        keySection: Buffer.from(keySection),
        info: { ...info, createdAt: clock.now() },
        uses: 0,
        older: undefined,
        newer: undefined,
      };
      entries.set(slot, entry);
      append(entry);
      while (entries.size > maxEntries && oldest) {
        remove(oldest);
        evictions++;
      }
    },
    evict(predicate) {
      let n = 0;
      for (const entry of entries.values()) {
        if (predicate(entry.info)) {
          remove(entry);
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
        oldest = undefined;
        newest = undefined;
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

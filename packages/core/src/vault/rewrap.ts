import { LABELLED_SEALED_TABLES, type SealedTable, type SealedRecord } from '../store/provider-keys-repository';
import type { Store } from '../store/store';
import type { UsersAuditRecorder } from '../users/users-service';
import type { SealContext } from './seal-context';
import type { Sealer } from './sealer';

export interface RewrapProgress {
  table: SealedTable;
  done: number;
  total: number;
  rewrapped: number;
  /** Records a concurrent set or remove changed first (their new value is already current). */
  superseded: number;
  failed: number;
  ratePerSecond: number;
}

export interface RewrapReport {
  primary: string;
  total: number;
  rewrapped: number;
  superseded: number;
  failed: number;
  failures: Array<{ table: SealedTable; id: string; code: string }>;
}

export interface RewrapOptions {
  store: Store;
  sealer: Sealer;
  audit?: UsersAuditRecorder;
  batchSize?: number;
  onProgress?: (progress: RewrapProgress) => void;
  signal?: AbortSignal;
}

/** How each sealed table's rows map to the context their values were sealed under. */
const CONTEXTS: Record<SealedTable, (record: SealedRecord) => SealContext> = {
  provider_keys: (r) => ({ purpose: 'provider_key', userId: r.userId, provider: r.scope, recordId: r.id }),
  signing_keys: (r) => ({ purpose: 'signing_key', userId: '', recordId: r.id }),
  oauth_access_tokens: (r) => ({ purpose: 'oauth_token', userId: r.userId, tokenKind: 'access', recordId: r.id }),
  oauth_refresh_tokens: (r) => ({ purpose: 'oauth_token', userId: r.userId, tokenKind: 'refresh', recordId: r.id }),
  chat_content_keys: (r) => ({ purpose: 'chat_content', userId: r.userId, recordId: r.id }),
};

/** The KEK label a sealed value names in its header (`driver:keyId:version`). */
function headerKek(sealer: Sealer, sealed: string): string {
  try {
    const info = sealer.keyVersionOf(Buffer.from(sealed, 'base64url'));
    return `${info.driverId}:${info.keyId}:${info.keyVersion}`;
  } catch {
    return 'unreadable';
  }
}

/**
 * How many sealed values of each table use each KEK: labelled tables are counted by the
 * store, the small auth tables by reading each value's header (no KMS call).
 */
export async function sealedKekCounts(store: Store, sealer: Sealer): Promise<Array<{ table: SealedTable; kek: string; count: number }>> {
  const out = await store.sealedRecords.countByKek();
  for (const table of Object.keys(CONTEXTS) as SealedTable[]) {
    if (LABELLED_SEALED_TABLES.includes(table)) continue;
    const counts = new Map<string, number>();
    let afterId = '';
    for (;;) {
      const page = await store.sealedRecords.page(table, { excludeKek: '', afterId, limit: 500 });
      if (page.length === 0) break;
      for (const r of page) {
        const kek = headerKek(sealer, r.sealed);
        counts.set(kek, (counts.get(kek) ?? 0) + 1);
        afterId = r.id;
      }
    }
    for (const [kek, count] of [...counts].sort()) out.push({ table, kek, count });
  }
  return out;
}

/**
 * Re-wraps every stored data key under the primary KEK without touching the sealed
 * payloads. Each row is replaced with a compare-and-set on its old value, so a
 * concurrent `setKey` or `removeKey` wins. Rewrapped rows leave the set being scanned,
 * so a killed run resumes by running again.
 *
 * @example
 * const report = await rewrapAll({ store: byok.store, sealer: byok.sealer, onProgress: console.log });
 */
export async function rewrapAll(options: RewrapOptions): Promise<RewrapReport> {
  const { store, sealer } = options;
  const primaryKey = await sealer.primaryKey();
  const primary = `${primaryKey.driverId}:${primaryKey.keyId}:${primaryKey.version}`;
  const counts = await sealedKekCounts(store, sealer);
  const report: RewrapReport = { primary, total: 0, rewrapped: 0, superseded: 0, failed: 0, failures: [] };
  const started = Date.now();

  for (const table of Object.keys(CONTEXTS) as SealedTable[]) {
    const total = counts.filter((c) => c.table === table && c.kek !== primary).reduce((n, c) => n + c.count, 0);
    report.total += total;
    let afterId = '';
    let done = 0;
    for (;;) {
      if (options.signal?.aborted) return report;
      const page = await store.sealedRecords.page(table, { excludeKek: primary, afterId, limit: options.batchSize ?? 100 });
      if (page.length === 0) break;
      for (const record of page) {
        afterId = record.id;
        done++;
        if (!LABELLED_SEALED_TABLES.includes(table) && headerKek(sealer, record.sealed) === primary) continue;
        try {
          const bytes = Buffer.from(record.sealed, 'base64url');
          const next = (await sealer.rewrap(bytes, CONTEXTS[table](record))) ?? bytes;
          const swapped = await store.sealedRecords.compareAndSet(table, record.id, record.sealed, { sealed: next.toString('base64url'), kek: primary });
          if (swapped) report.rewrapped++;
          else report.superseded++;
        } catch (error) {
          report.failed++;
          report.failures.push({ table, id: record.id, code: (error as { code?: string }).code ?? 'internal' });
        }
      }
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      options.onProgress?.({
        table,
        done,
        total: Math.max(total, done),
        rewrapped: report.rewrapped,
        superseded: report.superseded,
        failed: report.failed,
        ratePerSecond: report.rewrapped / seconds,
      });
    }
  }
  await options.audit?.record({
    actorUserId: null,
    action: 'kms.rewrapped',
    target: primary,
    outcome: report.failed ? 'failure' : 'success',
    metadata: { driver: primaryKey.driverId, toKeyId: primaryKey.keyId, toVersion: String(primaryKey.version), records: report.rewrapped, failed: report.failed },
  });
  return report;
}

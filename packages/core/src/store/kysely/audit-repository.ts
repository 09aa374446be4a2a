import { randomBytes } from 'node:crypto';
import { ByokError } from '../../errors';
import type {
  AuditAppendInput,
  AuditHead,
  AuditListQuery,
  AuditPersonalRow,
  AuditRepository,
  AuditRow,
} from '../store';
import { assertExtendsHead } from '../audit-append-check';
import { insertIgnore } from './insert-ignore';
import type { KyselyStore } from './kysely-store';
import { toAuditHead, toAuditPersonalRow, toAuditRow } from './tables';

/** The audit trail on Kysely: rows, chain heads, erasable personal side rows, per-owner salts. */
export class KyselyAuditRepository implements AuditRepository {
  readonly #store: KyselyStore;

  constructor(store: KyselyStore) {
    this.#store = store;
  }

  append(input: AuditAppendInput): Promise<AuditRow> {
    if (!this.#store.inTransaction) {
      if (this.#store.sqlDialect === 'postgres') return this.#appendOptimistic(input);
      return this.#store.transaction((tx) => tx.audit.append(input));
    }
    if (this.#store.sqlDialect === 'postgres') this.#store.appendStatements.forgetHead(input.chain);
    return this.#store.guard(async () => {
      const { db, appendStatements } = this.#store;
      // Creates the head at seq 1 or bumps last_seq by one in a single upsert, so two
      // transactions creating one chain serialise on its key instead of racing; the row
      // lock is then held until commit. last_hash is still the previous row's hash.
      const prev = await appendStatements.advance(db, input.chain, input.genesisHash);
      let row: AuditRow;
      try {
        row = input.build(prev);
        assertExtendsHead(input.chain, prev, row);
      } catch (error) {
        await appendStatements.undo(db, input.chain, prev, undefined);
        throw error;
      }
      await appendStatements.write(db, row, input.personal, prev);
      return { ...row };
    });
  }

  /**
   * PostgreSQL outside a transaction: compare-and-set appends in one statement each,
   * re-reading the head after a lost race; after a few lost races (a hot chain) it falls
   * back to the locking transaction, which queues writers on the head row instead.
   */
  async #appendOptimistic(input: AuditAppendInput): Promise<AuditRow> {
    const { db, appendStatements } = this.#store;
    for (let attempt = 0; attempt < 3; attempt++) {
      const row = await this.#store.guard(async () => {
        const prev = await appendStatements.currentHead(db, input.chain, input.genesisHash);
        const built = input.build(prev);
        assertExtendsHead(input.chain, prev, built);
        return (await appendStatements.appendIfHead(db, built, input.personal, prev)) ? built : undefined;
      });
      if (row) return { ...row };
    }
    return this.#store.transaction((tx) => tx.audit.append(input));
  }

  list(query: AuditListQuery): Promise<AuditRow[]> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      let q = db.selectFrom(tables.auditLog).selectAll().where('chain', '=', query.chain);
      if (query.actions !== undefined) {
        if (query.actions.length === 0) return [];
        q = q.where('action', 'in', query.actions);
      }
      if (query.from !== undefined) q = q.where('at', '>=', query.from);
      if (query.to !== undefined) q = q.where('at', '<', query.to);
      if (query.beforeSeq !== undefined) q = q.where('seq', '<', query.beforeSeq);
      const rows = await q.orderBy('seq', 'desc').limit(query.limit).execute();
      return rows.map(toAuditRow);
    });
  }

  readChain(chain: string, afterSeq: number, limit: number): Promise<AuditRow[]> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const rows = await db
        .selectFrom(tables.auditLog)
        .selectAll()
        .where('chain', '=', chain)
        .where('seq', '>', afterSeq)
        .orderBy('seq', 'asc')
        .limit(limit)
        .execute();
      return rows.map(toAuditRow);
    });
  }

  heads(): Promise<AuditHead[]> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const rows = await db.selectFrom(tables.auditHeads).selectAll().orderBy('chain').execute();
      return rows.map(toAuditHead);
    });
  }

  head(chain: string): Promise<AuditHead | undefined> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const row = await db.selectFrom(tables.auditHeads).selectAll().where('chain', '=', chain).executeTakeFirst();
      return row ? toAuditHead(row) : undefined;
    });
  }

  personal(auditIds: string[]): Promise<AuditPersonalRow[]> {
    const { db, tables } = this.#store;
    if (auditIds.length === 0) return Promise.resolve([]);
    return this.#store.guard(async () => {
      const rows = await db.selectFrom(tables.auditPersonal).selectAll().where('audit_id', 'in', auditIds).execute();
      return rows.map(toAuditPersonalRow);
    });
  }

  salt(owner: string): Promise<string> {
    const { db, tables, sqlDialect } = this.#store;
    return this.#store.guard(async () => {
      const existing = await db.selectFrom(tables.auditSalts).select('salt').where('user_id', '=', owner).executeTakeFirst();
      if (existing) return existing.salt as string;
      await insertIgnore(db, sqlDialect, tables.auditSalts, 'user_id', { user_id: owner, salt: randomBytes(32).toString('hex') });
      // A locking read on MySQL: under REPEATABLE READ a plain SELECT would read this
      // transaction's old snapshot and miss a salt another transaction just committed
      // (the one our INSERT IGNORE collided with).
      const select = db.selectFrom(tables.auditSalts).select('salt').where('user_id', '=', owner);
      const row = await (sqlDialect === 'mysql' ? select.forUpdate() : select).executeTakeFirst();
      // Gone between the insert and this read: only deleting the user erases a salt, so the
      // owner was deleted meanwhile (an export racing `DELETE /me`, found by the fuzz on MariaDB).
      if (!row) throw new ByokError('not_found', 'User not found');
      return row.salt as string;
    });
  }

  hasSalt(owner: string): Promise<boolean> {
    const { db, tables } = this.#store;
    return this.#store.guard(async () => {
      const row = await db.selectFrom(tables.auditSalts).select('user_id').where('user_id', '=', owner).executeTakeFirst();
      return row !== undefined;
    });
  }

  eraseUser(userId: string): Promise<void> {
    return this.#store.transaction(async (tx) => {
      const { db, tables } = tx as KyselyStore;
      const ids = db
        .selectFrom(tables.auditLog)
        .select('id')
        .where((eb) => eb.or([eb('chain', '=', `user:${userId}`), eb('actor_user_id', '=', userId)]));
      await db.deleteFrom(tables.auditPersonal).where('audit_id', 'in', ids).execute();
      await db.deleteFrom(tables.auditSalts).where('user_id', '=', userId).execute();
    });
  }
}

import type { Kysely } from 'kysely';
import type { AuditHead, AuditPersonalRow, AuditRow, Store } from '@byok/core/store';

/**
 * Where a MemoryStore keeps its tables. Deliberately not part of @byok/core's API (no host
 * or store author should reach into them): the tamper tool finds them by the registered
 * symbol and touches only the audit tables, whose shape it declares here.
 */
const MEMORY_STATE = Symbol.for('byok.store.memory-state');

interface MemoryAuditTables {
  auditLog: Map<string, AuditRow>;
  /** unique(chain, seq): `${chain}\n${seq}` → audit row id. */
  auditChainSeq: Map<string, string>;
  auditHeads: Map<string, AuditHead>;
  auditPersonal: Map<string, AuditPersonalRow>;
}

/**
 * Corrupts a store's audit data behind its back, as an attacker with database access
 * would. The store conformance suite and audit tamper tests use it to prove that
 * verification notices. Every method bypasses the store and its invariants.
 */
export interface StoreTamper {
  /** Overwrites columns of one audit row (camelCase field names). */
  updateAuditRow(id: string, patch: Partial<Omit<AuditRow, 'id'>>): Promise<void>;
  /** Deletes one audit row (and its personal side row). */
  deleteAuditRow(id: string): Promise<void>;
  /** Inserts a row as given, without touching the head. */
  insertAuditRow(row: AuditRow): Promise<void>;
  /** Exchanges the `seq` of two rows (a reordering). */
  swapAuditSeq(idA: string, idB: string): Promise<void>;
  deleteHead(chain: string): Promise<void>;
  /** Creates or overwrites a chain head. */
  setHead(head: AuditHead): Promise<void>;
  /** Deletes every row of a chain and its head. */
  deleteChain(chain: string): Promise<void>;
}

const AUDIT_COLUMNS: Record<keyof AuditRow, string> = {
  id: 'id',
  chain: 'chain',
  seq: 'seq',
  prevHash: 'prev_hash',
  hash: 'hash',
  at: 'at',
  actorUserId: 'actor_user_id',
  action: 'action',
  target: 'target',
  outcome: 'outcome',
  metadata: 'metadata',
  personalHmac: 'personal_hmac',
};

function auditColumns(row: Partial<AuditRow>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(row)) {
    const column = AUDIT_COLUMNS[field as keyof AuditRow];
    if (column === undefined) throw new Error(`Unknown audit field: ${field}`);
    if (value !== undefined) out[column] = value;
  }
  return out;
}

/**
 * A StoreTamper over any Kysely connected to the store's database (preferably a second
 * connection, e.g. from `connectDatabase(config)`), for byok's table layout under `prefix`.
 *
 * @example
 * import { connectDatabase, createStore } from '@byok/core/store';
 * const tdb = await createTestDatabase('postgres');
 * const store = await createStore({ database: tdb.config });
 * const { db } = await connectDatabase(tdb.config); // a second connection, behind the store's back
 * const tamper = kyselyTamper(db, 'byok_');
 * const [row] = await store.audit.readChain('system', 0, 1);
 * if (row) await tamper.updateAuditRow(row.id, { metadata: '{"x":1}' });
 */
export function kyselyTamper(db: Kysely<any>, prefix = 'byok_'): StoreTamper {
  const log = `${prefix}audit_log`;
  const heads = `${prefix}audit_heads`;
  const personal = `${prefix}audit_personal`;
  const seqOf = async (id: string): Promise<number> => {
    const row = await db.selectFrom(log).select('seq').where('id', '=', id).executeTakeFirstOrThrow();
    return Number(row.seq);
  };
  return {
    async updateAuditRow(id, patch) {
      await db.updateTable(log).set(auditColumns(patch)).where('id', '=', id).execute();
    },
    async deleteAuditRow(id) {
      await db.deleteFrom(personal).where('audit_id', '=', id).execute();
      await db.deleteFrom(log).where('id', '=', id).execute();
    },
    async insertAuditRow(row) {
      await db.insertInto(log).values(auditColumns(row)).execute();
    },
    async swapAuditSeq(idA, idB) {
      const [a, b] = [await seqOf(idA), await seqOf(idB)];
      // unique(chain, seq): park A on a free seq first
      await db.updateTable(log).set({ seq: -1 - Math.floor(Math.random() * 1e9) }).where('id', '=', idA).execute();
      await db.updateTable(log).set({ seq: a }).where('id', '=', idB).execute();
      await db.updateTable(log).set({ seq: b }).where('id', '=', idA).execute();
    },
    async deleteHead(chain) {
      await db.deleteFrom(heads).where('chain', '=', chain).execute();
    },
    async setHead(head) {
      await db.deleteFrom(heads).where('chain', '=', head.chain).execute();
      await db.insertInto(heads).values({ chain: head.chain, last_seq: head.lastSeq, last_hash: head.lastHash }).execute();
    },
    async deleteChain(chain) {
      await db
        .deleteFrom(personal)
        .where('audit_id', 'in', db.selectFrom(log).select('id').where('chain', '=', chain))
        .execute();
      await db.deleteFrom(log).where('chain', '=', chain).execute();
      await db.deleteFrom(heads).where('chain', '=', chain).execute();
    },
  };
}

/**
 * A StoreTamper for the in-memory store (`createStore({ database: { memory: true } })`).
 *
 * @example
 * import { createStore } from '@byok/core/store';
 * const store = await createStore({ database: { memory: true } });
 * const tamper = memoryTamper(store);
 */
export function memoryTamper(store: Store): StoreTamper {
  const state = (store as unknown as Record<symbol, MemoryAuditTables | undefined>)[MEMORY_STATE];
  if (!state) throw new Error('memoryTamper needs an in-memory store');
  const key = (chain: string, seq: number) => `${chain}\n${seq}`;
  const get = (id: string): AuditRow => {
    const row = state.auditLog.get(id);
    if (!row) throw new Error(`No audit row ${id}`);
    return row;
  };
  const put = (row: AuditRow) => {
    if (state.auditChainSeq.has(key(row.chain, row.seq)) && state.auditChainSeq.get(key(row.chain, row.seq)) !== row.id) {
      throw new Error('unique(chain, seq) violated');
    }
    state.auditLog.set(row.id, row);
    state.auditChainSeq.set(key(row.chain, row.seq), row.id);
  };
  const remove = (id: string) => {
    const row = state.auditLog.get(id);
    if (!row) return;
    state.auditLog.delete(id);
    state.auditChainSeq.delete(key(row.chain, row.seq));
    state.auditPersonal.delete(id);
  };
  return {
    async updateAuditRow(id, patch) {
      const row = get(id);
      const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      state.auditChainSeq.delete(key(row.chain, row.seq));
      put({ ...row, ...defined });
    },
    async deleteAuditRow(id) {
      remove(id);
    },
    async insertAuditRow(row) {
      if (state.auditLog.has(row.id)) throw new Error('duplicate audit id');
      put({ ...row });
    },
    async swapAuditSeq(idA, idB) {
      const a = get(idA);
      const b = get(idB);
      state.auditChainSeq.delete(key(a.chain, a.seq));
      state.auditChainSeq.delete(key(b.chain, b.seq));
      put({ ...a, seq: b.seq });
      put({ ...b, seq: a.seq });
    },
    async deleteHead(chain) {
      state.auditHeads.delete(chain);
    },
    async setHead(head) {
      state.auditHeads.set(head.chain, { ...head });
    },
    async deleteChain(chain) {
      for (const row of [...state.auditLog.values()]) if (row.chain === chain) remove(row.id);
      state.auditHeads.delete(chain);
    },
  };
}

import { randomBytes } from 'node:crypto';
import { ByokError } from '../../errors';
import { assertExtendsHead } from '../audit-append-check';
import type { AuditAppendInput, AuditHead, AuditListQuery, AuditPersonalRow, AuditRepository, AuditRow } from '../store';
import type { MemoryStore } from './memory-store';
import { chainSeqKey } from './memory-state';

/** The audit trail in memory: rows, heads, personal side rows and salts. */
export class MemoryAuditRepository implements AuditRepository {
  readonly #store: MemoryStore;

  constructor(store: MemoryStore) {
    this.#store = store;
  }

  append(input: AuditAppendInput): Promise<AuditRow> {
    return this.#store.run((w) => {
      const { auditHeads, auditLog, auditChainSeq, auditPersonal } = this.#store.state;
      const head = auditHeads.get(input.chain);
      const prev = head ? { seq: head.lastSeq, hash: head.lastHash } : { seq: 0, hash: input.genesisHash };
      const row = { ...input.build(prev) };
      assertExtendsHead(input.chain, prev, row);
      const key = chainSeqKey(row.chain, row.seq);
      if (auditLog.has(row.id) || auditChainSeq.has(key)) throw new ByokError('conflict', 'The record already exists');
      w.set(auditLog, row.id, row);
      w.set(auditChainSeq, key, row.id);
      if (input.personal) w.set(auditPersonal, row.id, { auditId: row.id, ip: input.personal.ip, userAgent: input.personal.userAgent });
      w.set(auditHeads, input.chain, { chain: input.chain, lastSeq: row.seq, lastHash: row.hash });
      return { ...row };
    });
  }

  list(query: AuditListQuery): Promise<AuditRow[]> {
    return this.#store.run(() => {
      const actions = query.actions ? new Set(query.actions) : undefined;
      return [...this.#store.state.auditLog.values()]
        .filter(
          (r) =>
            r.chain === query.chain &&
            (actions === undefined || actions.has(r.action)) &&
            (query.from === undefined || r.at >= query.from) &&
            (query.to === undefined || r.at < query.to) &&
            (query.beforeSeq === undefined || r.seq < query.beforeSeq),
        )
        .sort((a, b) => b.seq - a.seq)
        .slice(0, query.limit)
        .map((r) => ({ ...r }));
    });
  }

  readChain(chain: string, afterSeq: number, limit: number): Promise<AuditRow[]> {
    return this.#store.run(() =>
      [...this.#store.state.auditLog.values()]
        .filter((r) => r.chain === chain && r.seq > afterSeq)
        .sort((a, b) => a.seq - b.seq)
        .slice(0, limit)
        .map((r) => ({ ...r })),
    );
  }

  heads(): Promise<AuditHead[]> {
    return this.#store.run(() =>
      [...this.#store.state.auditHeads.values()].sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0)).map((h) => ({ ...h })),
    );
  }

  head(chain: string): Promise<AuditHead | undefined> {
    return this.#store.run(() => {
      const head = this.#store.state.auditHeads.get(chain);
      return head ? { ...head } : undefined;
    });
  }

  personal(auditIds: string[]): Promise<AuditPersonalRow[]> {
    return this.#store.run(() => {
      const rows: AuditPersonalRow[] = [];
      for (const id of new Set(auditIds)) {
        const row = this.#store.state.auditPersonal.get(id);
        if (row) rows.push({ ...row });
      }
      return rows;
    });
  }

  salt(owner: string): Promise<string> {
    return this.#store.run((w) => {
      const { auditSalts } = this.#store.state;
      let salt = auditSalts.get(owner);
      if (salt === undefined) {
        salt = randomBytes(32).toString('hex');
        w.set(auditSalts, owner, salt);
      }
      return salt;
    });
  }

  hasSalt(owner: string): Promise<boolean> {
    return this.#store.run(() => this.#store.state.auditSalts.has(owner));
  }

  eraseUser(userId: string): Promise<void> {
    return this.#store.run((w) => {
      const { auditLog, auditPersonal, auditSalts } = this.#store.state;
      const chain = `user:${userId}`;
      for (const row of auditLog.values()) {
        if (row.chain === chain || row.actorUserId === userId) w.delete(auditPersonal, row.id);
      }
      w.delete(auditSalts, userId);
    });
  }
}

import { createHash } from 'node:crypto';
import { CompiledQuery, sql, type Compilable, type Kysely } from 'kysely';
import type { AuditRow } from '../store';
import type { SqlDialect } from './connect';
import { fromAuditRow, num, type TableNames } from './tables';

/**
 * The audit append is byok's hot path, so its statements are compiled once per store
 * (by Kysely, for the right dialect) and then executed with fresh parameters — no query
 * building per append. On PostgreSQL the row, its personal side row and the head update
 * go in one statement (data-modifying CTEs), so an append costs two round trips inside
 * its transaction.
 */
export class AuditAppendStatements {
  readonly #dialect: SqlDialect;
  readonly #tables: TableNames;
  readonly #advance: Template;
  readonly #readHead: Template | undefined;
  readonly #write: Template[];
  readonly #writePersonal: Template[];

  readonly #prepared: ((name: string, text: string, values: readonly unknown[]) => Promise<Array<Record<string, unknown>>>) | undefined;

  constructor(
    db: Kysely<any>,
    dialect: SqlDialect,
    t: TableNames,
    prepared?: (name: string, text: string, values: readonly unknown[]) => Promise<Array<Record<string, unknown>>>,
  ) {
    this.#prepared = prepared;
    this.#dialect = dialect;
    this.#tables = t;
    const row = fromAuditRow(sentinelRow());
    const personal = { audit_id: sentinel('personal_id'), ip: sentinel('ip'), user_agent: sentinel('user_agent') };
    const insertHead = db.insertInto(t.auditHeads).values({ chain: sentinel('chain'), last_seq: 1, last_hash: sentinel('genesis') });
    const setHash = db.updateTable(t.auditHeads).set({ last_hash: sentinel('hash') }).where('chain', '=', sentinel('chain'));
    const insertRow = db.insertInto(t.auditLog).values(row);
    const insertPersonal = db.insertInto(t.auditPersonal).values(personal);

    if (dialect === 'mysql') {
      this.#advance = template(insertHead.onDuplicateKeyUpdate({ last_seq: sql`last_seq + 1` }));
      this.#readHead = template(
        db.selectFrom(t.auditHeads).select(['last_seq', 'last_hash']).where('chain', '=', sentinel('chain')),
      );
    } else {
      this.#advance = template(
        insertHead
          .onConflict((oc) => oc.column('chain').doUpdateSet({ last_seq: sql`${sql.ref(`${t.auditHeads}.last_seq`)} + 1` }))
          .returning(['last_seq', 'last_hash']),
      );
      this.#readHead = undefined;
    }

    if (dialect === 'postgres') {
      this.#write = [template(db.with('r', () => insertRow).updateTable(t.auditHeads).set({ last_hash: sentinel('hash') }).where('chain', '=', sentinel('chain')))];
      this.#writePersonal = [
        template(
          db
            .with('r', () => insertRow)
            .with('p', () => insertPersonal)
            .updateTable(t.auditHeads)
            .set({ last_hash: sentinel('hash') })
            .where('chain', '=', sentinel('chain')),
        ),
      ];
    } else {
      this.#write = [template(insertRow), template(setHash)];
      this.#writePersonal = [template(insertRow), template(insertPersonal), template(setHash)];
    }
  }

  /** Creates the head or bumps its last_seq; returns the head as it was before this row. */
  async advance(db: Kysely<any>, chain: string, genesisHash: string): Promise<{ seq: number; hash: string }> {
    const values = { chain, genesis: genesisHash };
    const result = await db.executeQuery<Record<string, unknown>>(this.#advance.bind(values));
    const head = this.#readHead ? (await db.executeQuery<Record<string, unknown>>(this.#readHead.bind(values))).rows[0] : result.rows[0];
    if (!head) throw new Error('The audit head vanished inside its own transaction');
    return { seq: num(head.last_seq) - 1, hash: head.last_hash as string };
  }

  /**
   * Inserts the row (and personal row) and moves the head's hash to it. If a statement
   * fails, what this append already did is undone (see {@link undo}) before rethrowing.
   */
  async write(
    db: Kysely<any>,
    row: AuditRow,
    personal: { ip: string | null; userAgent: string | null } | undefined,
    prev: { seq: number; hash: string },
  ): Promise<void> {
    const values: Record<string, unknown> = { ...sentinelValues(row), personal_id: row.id, ip: personal?.ip ?? null, user_agent: personal?.userAgent ?? null };
    let rowInserted = false;
    try {
      for (const statement of personal ? this.#writePersonal : this.#write) {
        await db.executeQuery(statement.bind(values));
        rowInserted = true;
      }
    } catch (error) {
      await this.undo(db, row.chain, prev, rowInserted ? row.id : undefined);
      throw error;
    }
  }

  /**
   * Puts the head back where `advance` found it (and removes the row if it was written),
   * so a caller that catches a failed append inside its own transaction and commits
   * does not leave a gap in the chain. On MySQL and SQLite a failed statement leaves the
   * transaction usable, so this matters there; on PostgreSQL the failure has already
   * aborted the transaction and these statements fail too, which is ignored.
   */
  async undo(db: Kysely<any>, chain: string, prev: { seq: number; hash: string }, rowId: string | undefined): Promise<void> {
    try {
      if (rowId !== undefined) {
        await db.deleteFrom(this.#tables.auditPersonal).where('audit_id', '=', rowId).execute();
        await db.deleteFrom(this.#tables.auditLog).where('id', '=', rowId).execute();
      }
      await db
        .updateTable(this.#tables.auditHeads)
        .set({ last_seq: prev.seq, last_hash: prev.hash })
        .where('chain', '=', chain)
        .execute();
    } catch {
      // the transaction is already doomed (PostgreSQL); it will roll back
    }
  }

  get dialect(): SqlDialect {
    return this.#dialect;
  }

  /** Last head this process wrote per chain: the optimistic append's first guess. */
  readonly #knownHeads = new Map<string, { seq: number; hash: string }>();

  /** The head as committed now, or the chain's start when it has none. */
  async currentHead(db: Kysely<any>, chain: string, genesisHash: string): Promise<{ seq: number; hash: string }> {
    const known = this.#knownHeads.get(chain);
    if (known) return known;
    const q = this.#pg();
    const { rows } = await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(q.readHead, [chain]));
    const head = rows[0];
    return head ? { seq: num(head.last_seq), hash: head.last_hash as string } : { seq: 0, hash: genesisHash };
  }

  /**
   * PostgreSQL, outside a transaction: appends in ONE autocommit statement whose CTEs
   * move the head only if it is still `prev` (compare-and-set on seq and hash) and insert
   * the row (and personal row) only if the head moved. Returns false when another
   * writer moved the head first; the caller re-reads and tries again. One round trip
   * instead of BEGIN / advance / write / COMMIT, with the same atomicity.
   */
  async appendIfHead(
    db: Kysely<any>,
    row: AuditRow,
    personal: { ip: string | null; userAgent: string | null } | undefined,
    prev: { seq: number; hash: string },
  ): Promise<boolean> {
    const q = this.#pg();
    const sql = prev.seq === 0 ? (personal ? q.createWithPersonal : q.create) : personal ? q.advanceWithPersonal : q.advance;
    const params: unknown[] = [
      row.id, row.chain, row.seq, row.prevHash, row.hash, row.at, row.actorUserId, row.action, row.target, row.outcome, row.metadata, row.personalHmac, prev.seq,
    ];
    if (personal) params.push(personal.ip, personal.userAgent);
    const rows = this.#prepared
      ? await this.#prepared(q.names.get(sql)!, sql, params)
      : (await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(sql, params))).rows;
    const ok = Number(rows[0]?.n ?? 0) === 1;
    if (ok) {
      if (this.#knownHeads.size >= 10_000) this.#knownHeads.clear();
      this.#knownHeads.set(row.chain, { seq: row.seq, hash: row.hash });
    } else {
      this.#knownHeads.delete(row.chain);
    }
    return ok;
  }

  /** Forgets what this process believes a chain's head is (after a conflict or a tx append). */
  forgetHead(chain: string): void {
    this.#knownHeads.delete(chain);
  }

  #pgStatements: PgAppendSql | undefined;

  #pg(): PgAppendSql {
    return (this.#pgStatements ??= pgAppendSql(this.#tables));
  }
}

interface PgAppendSql {
  /** Statement name per SQL text, for server-side prepared statements. */
  names: Map<string, string>;
  readHead: string;
  create: string;
  createWithPersonal: string;
  advance: string;
  advanceWithPersonal: string;
}

/** The optimistic append's SQL (PostgreSQL only: it needs data-modifying CTEs). */
function pgAppendSql(t: TableNames): PgAppendSql {
  const q = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const insertRow = `r AS (INSERT INTO ${q(t.auditLog)} (id, chain, seq, prev_hash, hash, at, actor_user_id, action, target, outcome, metadata, personal_hmac)
    SELECT $1::varchar, $2::varchar, $3::bigint, $4::varchar, $5::varchar, $6::bigint, $7::varchar, $8::varchar, $9::text, $10::varchar, $11::text, $12::varchar
    WHERE EXISTS (SELECT 1 FROM h) RETURNING id)`;
  const insertPersonal = `, p AS (INSERT INTO ${q(t.auditPersonal)} (audit_id, ip, user_agent) SELECT id, $14::varchar, $15::text FROM r)`;
  const create = `WITH h AS (INSERT INTO ${q(t.auditHeads)} (chain, last_seq, last_hash) SELECT $2::varchar, $3::bigint, $5::varchar WHERE $13::bigint = 0
    ON CONFLICT (chain) DO NOTHING RETURNING 1), ${insertRow}`;
  const advance = `WITH h AS (UPDATE ${q(t.auditHeads)} SET last_seq = $3::bigint, last_hash = $5::varchar
    WHERE chain = $2::varchar AND last_seq = $13::bigint AND last_hash = $4::varchar RETURNING 1), ${insertRow}`;
  const count = ' SELECT count(*)::int AS n FROM r';
  const statements = {
    readHead: `SELECT last_seq, last_hash FROM ${q(t.auditHeads)} WHERE chain = $1`,
    create: create + count,
    createWithPersonal: create + insertPersonal + count,
    advance: advance + count,
    advanceWithPersonal: advance + insertPersonal + count,
  };
  // Names carry a hash of the text: two stores with different prefixes never collide.
  const names = new Map(
    Object.entries(statements).map(([kind, text]) => [text, `byok_audit_${kind}_${createHash('sha256').update(text).digest('hex').slice(0, 12)}`]),
  );
  return { names, ...statements };
}

const SENTINEL = '\u0000byok-param:';

function sentinel(name: string): string {
  return `${SENTINEL}${name}`;
}

/** A compiled statement whose parameters are named by sentinel strings. */
interface Template {
  bind(values: Record<string, unknown>): CompiledQuery;
}

function template(query: Compilable<unknown>): Template {
  const compiled = query.compile();
  const slots = compiled.parameters.map((p) => (typeof p === 'string' && p.startsWith(SENTINEL) ? p.slice(SENTINEL.length) : { literal: p }));
  return {
    bind: (values) =>
      CompiledQuery.raw(
        compiled.sql,
        slots.map((slot) => (typeof slot === 'string' ? values[slot] : slot.literal)),
      ),
  };
}

const ROW_FIELDS: Array<keyof AuditRow> = ['id', 'chain', 'seq', 'prevHash', 'hash', 'at', 'actorUserId', 'action', 'target', 'outcome', 'metadata', 'personalHmac'];

function sentinelRow(): AuditRow {
  return Object.fromEntries(ROW_FIELDS.map((f) => [f, sentinel(`row_${f}`)])) as unknown as AuditRow;
}

function sentinelValues(row: AuditRow): Record<string, unknown> {
  const out: Record<string, unknown> = { chain: row.chain, hash: row.hash };
  for (const f of ROW_FIELDS) out[`row_${f}`] = row[f];
  return out;
}

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { AuditService } from '@byok/core/audit';
import { createStore, uuidv7 } from '@byok/core/store';
import { createTestDatabase } from '@byok/testing/store';
import { compare, ratioFigure, timePerOp, type Figure } from '../harness';

const WRITERS = 64;
const USERS = 64;
const APPENDS_PER_ROUND = 64 * 20;
const POOL = 10;

/**
 * audit.append_ratio: time per audit append (hash chain, head moved in the same
 * transaction) with 64 concurrent writers for 64 users on PostgreSQL, over the time per
 * plain single-row INSERT of the same row shape into a table with the same indexes, with
 * the same pool size, server and durability settings (prepared statement, autocommit).
 */
export async function run(): Promise<Figure[]> {
  const database = await createTestDatabase('postgres');
  const url = (database.config as { postgres: string }).postgres;
  const store = await createStore({ database: { ...database.config, poolSize: POOL } });
  const audit = new AuditService({ store });
  const pool = new pg.Pool({ connectionString: url, max: POOL });
  try {
    await pool.query('CREATE TABLE plain_audit_log (LIKE byok_audit_log INCLUDING ALL)');
    const users = Array.from({ length: USERS }, () => uuidv7());
    const plainSeq = new Map<string, number>();

    const ours = () =>
      timePerOp(APPENDS_PER_ROUND, WRITERS, (worker) =>
        audit.record({ actorUserId: users[worker % USERS]!, action: 'preferences.updated', target: users[worker % USERS]!, metadata: { fields: ['theme'] } }),
      );

    const text =
      'INSERT INTO plain_audit_log (id, chain, seq, prev_hash, hash, at, actor_user_id, action, target, outcome, metadata, personal_hmac) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)';
    const baseline = () =>
      timePerOp(APPENDS_PER_ROUND, WRITERS, (worker) => {
        const user = users[worker % USERS]!;
        const chain = `user:${user}`;
        const seq = (plainSeq.get(chain) ?? 0) + 1;
        plainSeq.set(chain, seq);
        return pool.query({
          name: 'plain-audit-insert',
          text,
          values: [uuidv7(), chain, seq, randomBytes(32).toString('hex'), randomBytes(32).toString('hex'), Date.now(), user, 'preferences.updated', user, 'success', '{"fields":["theme"]}', null],
        });
      });

    const result = await compare(ours, baseline, { rounds: 5, warmup: 1 });
    console.log(`audit append: ours ${result.ours.map((v) => v.toFixed(3)).join(' ')} ms/op; plain insert ${result.baseline.map((v) => v.toFixed(3)).join(' ')} ms/op`);
    return [ratioFigure('audit.append_ratio', result, '≤ 2')];
  } finally {
    await pool.end();
    await audit.close();
    await store.close();
    await database.drop();
  }
}

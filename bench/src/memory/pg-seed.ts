import { createHash } from 'node:crypto';
import type pg from 'pg';

/** Every column of `chat_messages`, as the store reads them (`selectAll`). */
export const MESSAGE_COLUMNS =
  'id, session_id, user_id, parent_id, seq, role, text, parts, status, error_code, client_message_id, input_hash, run_id, lease_expires_at, stop_requested_at, usage, input_tokens, output_tokens, reasoning_tokens, cached_input_tokens, token_estimate, created_at, updated_at';

/** A message's text in the seeded sessions: about 60 tokens, like a short chat turn. */
export const FILLER = 'the quick brown fox jumps over the lazy dog while the bench counts every row it reads back and writes down '.repeat(2).trim();

const BATCH = 50_000;

/**
 * Seeds a linear session (each message the child of the one before, alternating user and
 * assistant, all complete) of `count` messages straight into PostgreSQL with server-side
 * multi-row `INSERT … SELECT generate_series` statements, then points the session at its
 * last message. Ids are md5-derived UUIDs of (session, seq), so the parent of seq n is
 * computable in SQL.
 */
export async function seedPgSession(pool: pg.Pool, prefix: string, sessionId: string, userId: string, count: number, createdAt: number): Promise<void> {
  const idOf = (n: string) => `md5($1 || ':' || ${n})::uuid::text`;
  for (let from = 1; from <= count; from += BATCH) {
    const to = Math.min(count, from + BATCH - 1);
    await pool.query(
      `INSERT INTO ${prefix}chat_messages (id, session_id, user_id, parent_id, seq, role, text, parts, status, token_estimate, created_at, updated_at)
       SELECT ${idOf('n')}, $1, $2, CASE WHEN n = 1 THEN NULL ELSE ${idOf('(n - 1)')} END, n,
              CASE WHEN n % 2 = 1 THEN 'user' ELSE 'assistant' END,
              'message ' || n || ' ' || $3::text,
              '[{"type":"text","text":"message ' || n || ' ' || $3::text || '"}]',
              'complete', ceil(length('message ' || n || ' ' || $3::text) / 4.0) + 4, $4::bigint + n, $4::bigint + n
       FROM generate_series($5::bigint, $6::bigint) AS n`,
      [sessionId, userId, FILLER, createdAt, from, to],
    );
  }
  await pool.query(`UPDATE ${prefix}chat_sessions SET last_seq = $2::bigint, active_leaf_id = md5($1 || ':' || $2::bigint::text)::uuid::text, updated_at = $3 WHERE id = $1`, [
    sessionId,
    count,
    createdAt + count,
  ]);
}

/** The id the seeders give message `n` of a session (what `md5(session || ':' || n)::uuid` gives in SQL). */
export function seededId(sessionId: string, n: number): string {
  const h = createHash('md5').update(`${sessionId}:${n}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The plain text of message `n` in a seeded session. */
export const seededText = (n: number) => `message ${n} ${FILLER}`;

/**
 * Seeds the same linear session as {@link seedPgSession}, but with `text` and `parts` as
 * `seal(rowId, field, plaintext)` returns them, through multi-row INSERTs of 1,000 rows.
 */
export async function seedSealedPgSession(
  pool: pg.Pool,
  prefix: string,
  sessionId: string,
  userId: string,
  count: number,
  createdAt: number,
  seal: (rowId: string, field: 'text' | 'parts', plaintext: string) => string,
): Promise<void> {
  const ROWS = 1_000;
  const COLS = 12;
  for (let from = 1; from <= count; from += ROWS) {
    const to = Math.min(count, from + ROWS - 1);
    const values: unknown[] = [];
    const tuples: string[] = [];
    for (let n = from; n <= to; n++) {
      const id = seededId(sessionId, n);
      const text = seededText(n);
      const base = values.length;
      tuples.push(`(${Array.from({ length: COLS }, (_, k) => `$${base + k + 1}`).join(', ')})`);
      values.push(
        id,
        sessionId,
        userId,
        n === 1 ? null : seededId(sessionId, n - 1),
        n,
        n % 2 === 1 ? 'user' : 'assistant',
        seal(id, 'text', text),
        seal(id, 'parts', JSON.stringify([{ type: 'text', text }])),
        'complete',
        Math.ceil(text.length / 4) + 4,
        createdAt + n,
        createdAt + n,
      );
    }
    await pool.query(
      `INSERT INTO ${prefix}chat_messages (id, session_id, user_id, parent_id, seq, role, text, parts, status, token_estimate, created_at, updated_at) VALUES ${tuples.join(', ')}`,
      values,
    );
  }
  await pool.query(`UPDATE ${prefix}chat_sessions SET last_seq = $2::bigint, active_leaf_id = $3, updated_at = $4 WHERE id = $1`, [sessionId, count, seededId(sessionId, count), createdAt + count]);
}

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { LibSQLStore } from '@mastra/libsql';
import { Memory } from '@mastra/memory';
import { createByok, localKms, type Byok, type ByokOptions } from '@byok/core';
import { createCipheriv, randomBytes } from 'node:crypto';
import { createSealer } from '@byok/core/kms';
import { uuidv7, type ChatMessageRow } from '@byok/core/store';
import { gemini } from '@byok/gemini';
import { startGeminiStandIn } from '@byok/testing/llm';
import { createTestDatabase, type TestDatabase } from '@byok/testing/store';
import { compare, median, ratioFigure, type Comparison, type Figure } from '../harness';
import { countPgWrites } from '../memory/pg-write-counter';
import { FILLER, MESSAGE_COLUMNS, seedPgSession, seedSealedPgSession, seededText } from '../memory/pg-seed';
import { streamReply } from '../memory/stream-reply';

const MASTER = `1:${Buffer.alloc(32, 9).toString('base64')}`;
const KEY = 'AIzaSyBENCH-memory-00000000000000000001';
const MODEL = 'gemini-2.5-flash';
const PREFIX = 'byok_';
const T = { sessions: `${PREFIX}chat_sessions`, messages: `${PREFIX}chat_messages` };

/** Which parts run (`BENCH_MEMORY_ONLY=append,load,...`); all by default. */
const only = new Set((process.env.BENCH_MEMORY_ONLY ?? '').split(',').filter(Boolean));
const wanted = (part: string) => only.size === 0 || only.has(part);

/** Time per op (ms) of `n` sequential awaited calls. */
async function perOp(n: number, fn: (i: number) => unknown): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  return Number(process.hrtime.bigint() - start) / 1e6 / n;
}

/** Time per op (ms) of sequential calls for at least `ms` (and at least `minOps` calls). */
async function perOpFor(ms: number, fn: () => unknown, minOps = 5): Promise<number> {
  const start = process.hrtime.bigint();
  let n = 0;
  let elapsed = 0;
  while (n < minOps || elapsed < ms) {
    await fn();
    n += 1;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return elapsed / n;
}

const fmt = (values: number[], digits = 3) => values.map((v) => v.toFixed(digits)).join(' ');

/** A speedup figure (their time / ours, higher is better) from a comparison. */
function speedupFigure(metric: string, c: Comparison, target: string, note?: string): Figure {
  const s = c.ratios.map((r) => 1 / r);
  return { metric, value: median(s), min: Math.min(...s), max: Math.max(...s), unit: 'x', target, ...(note ? { note } : {}) };
}

function summary(metric: string, values: number[], unit: string, target: string, note?: string): Figure {
  return { metric, value: median(values), min: Math.min(...values), max: Math.max(...values), unit, target, ...(note ? { note } : {}) };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function makeByok(database: TestDatabase, providerUrl: string, extra: Partial<ByokOptions> = {}): Promise<Byok> {
  return createByok({
    database: database.config,
    kms: localKms({ keys: MASTER }),
    providers: [gemini({ baseUrl: providerUrl })],
    rateLimits: { chat_send: { perUser: 1_000_000, perIp: 1_000_000 }, chatStream: { perUser: 100_000 } },
    ...extra,
  });
}

async function benchUser(byok: Byok, subject: string): Promise<string> {
  const { user } = await byok.users.findOrCreate({ issuer: 'https://bench.test', subject });
  await byok.keyVault.setKey(user.id, 'gemini', KEY);
  return user.id;
}

/** A complete user message as the chat service stores one (text part, its projection, its estimate). */
function userRow(userId: string, sessionId: string, parentId: string | null, seq: number, text: string): ChatMessageRow {
  const now = Date.now();
  return {
    id: uuidv7(now),
    sessionId,
    userId,
    parentId,
    seq,
    role: 'user',
    text,
    parts: JSON.stringify([{ type: 'text', text }]),
    status: 'complete',
    errorCode: null,
    clientMessageId: uuidv7(now),
    inputHash: null,
    runId: null,
    leaseExpiresAt: null,
    stopRequestedAt: null,
    usage: null,
    usageCounts: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 },
    tokenEstimate: Math.ceil(text.length / 4) + 4,
    createdAt: now,
    updatedAt: now,
  };
}

function rowColumns(r: ChatMessageRow): Record<string, unknown> {
  return {
    id: r.id,
    session_id: r.sessionId,
    user_id: r.userId,
    parent_id: r.parentId,
    seq: r.seq,
    role: r.role,
    text: r.text,
    parts: r.parts,
    status: r.status,
    error_code: r.errorCode,
    client_message_id: r.clientMessageId,
    input_hash: r.inputHash,
    run_id: r.runId,
    lease_expires_at: r.leaseExpiresAt,
    stop_requested_at: r.stopRequestedAt,
    usage: r.usage,
    input_tokens: 0,
    output_tokens: 0,
    reasoning_tokens: 0,
    cached_input_tokens: 0,
    token_estimate: r.tokenEstimate,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
}

/** Appends through byok's store (the chat service's own append: seq under the session row lock, parent check, insert, session touch). */
function byokAppender(byok: Byok, userId: string, sessionId: string) {
  let parent: string | null = null;
  return async () => {
    const row = await byok.store.chatMessages.append(userId, sessionId, (seq) => userRow(userId, sessionId, parent, seq, `${FILLER} ${seq}`), { activate: true });
    parent = row!.id;
  };
}

// ---------------------------------------------------------------------------- append (SQLite)

async function appendFigures(): Promise<Figure[]> {
  const standIn = await startGeminiStandIn({ acceptKey: () => true });
  const database = await createTestDatabase('sqlite');
  const byok = await makeByok(database, standIn.url);
  const file = (database.config as { sqlite: string }).sqlite;
  const raw = new Database(file);
  try {
    const userId = await benchUser(byok, 'append');
    const ours = byokAppender(byok, userId, (await byok.chat.createSession(userId, { provider: 'gemini', model: MODEL })).id);

    // The same statements by hand in Kysely, in one transaction, on byok's own connection
    // (so the same dialect: WAL, synchronous NORMAL, BEGIN IMMEDIATE, statement cache).
    const db = (byok.store as unknown as { db: Kysely<any> }).db;
    const kyselySession = (await byok.chat.createSession(userId, { provider: 'gemini', model: MODEL })).id;
    let kyselyParent: string | null = null;
    const kysely = () =>
      db.transaction().execute(async (trx) => {
        const { last_seq } = await trx
          .updateTable(T.sessions)
          .set({ last_seq: sql`last_seq + 1` })
          .where('id', '=', kyselySession)
          .where('user_id', '=', userId)
          .returning('last_seq')
          .executeTakeFirstOrThrow();
        const seq = Number(last_seq);
        if (kyselyParent !== null) {
          await trx.selectFrom(T.messages).select('id').where('id', '=', kyselyParent).where('session_id', '=', kyselySession).where('user_id', '=', userId).executeTakeFirstOrThrow();
        }
        const row = userRow(userId, kyselySession, kyselyParent, seq, `${FILLER} ${seq}`);
        await trx.insertInto(T.messages).values(rowColumns(row)).onConflict((oc) => oc.doNothing()).execute();
        await trx.updateTable(T.sessions).set({ updated_at: row.createdAt, active_leaf_id: row.id }).where('id', '=', kyselySession).where('user_id', '=', userId).execute();
        kyselyParent = row.id;
      });

    // Prepared better-sqlite3 statements on a second connection with byok's settings.
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.pragma('busy_timeout = 5000');
    raw.pragma('foreign_keys = ON');
    const rawSession = (await byok.chat.createSession(userId, { provider: 'gemini', model: MODEL })).id;
    const bump = raw.prepare(`UPDATE ${T.sessions} SET last_seq = last_seq + 1 WHERE id = ? AND user_id = ? RETURNING last_seq`).pluck();
    const parentCheck = raw.prepare(`SELECT id FROM ${T.messages} WHERE id = ? AND session_id = ? AND user_id = ?`).pluck();
    const cols = MESSAGE_COLUMNS.split(', ');
    const insert = raw.prepare(`INSERT INTO ${T.messages} (${MESSAGE_COLUMNS}) VALUES (${cols.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`);
    const touch = raw.prepare(`UPDATE ${T.sessions} SET updated_at = ?, active_leaf_id = ? WHERE id = ? AND user_id = ?`);
    let rawParent: string | null = null;
    const rawAppend = raw.transaction(() => {
      const seq = bump.get(rawSession, userId) as number;
      if (rawParent !== null && parentCheck.get(rawParent, rawSession, userId) === undefined) throw new Error('parent missing');
      const row = userRow(userId, rawSession, rawParent, seq, `${FILLER} ${seq}`);
      const c = rowColumns(row);
      insert.run(cols.map((k) => c[k]));
      touch.run(row.createdAt, row.id, rawSession, userId);
      rawParent = row.id;
    });
    const prepared = async () => rawAppend.immediate();

    const N = 2_000;
    const vsKysely = await compare(() => perOp(N, ours), () => perOp(N, kysely), { rounds: 7 });
    const vsRaw = await compare(() => perOp(N, ours), () => perOp(N, prepared), { rounds: 5 });
    console.log(`memory append (SQLite): byok ${fmt(vsKysely.ours)} ms/op; Kysely by hand ${fmt(vsKysely.baseline)} ms/op; prepared better-sqlite3 ${fmt(vsRaw.baseline)} ms/op`);
    return [
      ratioFigure('memory.append_ratio', vsKysely, '≤ 1.3'),
      { ...ratioFigure('memory.append_ratio_vs_prepared', vsRaw), note: 'informational, no target' },
    ];
  } finally {
    raw.close();
    await byok.close();
    await standIn.close();
    await database.drop();
  }
}

// ---------------------------------------------------------------------------- loads (PostgreSQL)

const BIG_SESSION = 100_000;
const GROWTH_SESSION = 10_000;
const BIG_TABLE = 1_000_000;

async function loadFigures(): Promise<Figure[]> {
  const standIn = await startGeminiStandIn({ acceptKey: () => true });
  const small = await createTestDatabase('postgres');
  const big = await createTestDatabase('postgres');
  const chat = { context: { maxMessages: 50 } };
  const byokSmall = await makeByok(small, standIn.url, { chat });
  const byokBig = await makeByok(big, standIn.url, { chat });
  const poolSmall = new pg.Pool({ connectionString: (small.config as { postgres: string }).postgres, max: 4 });
  const poolBig = new pg.Pool({ connectionString: (big.config as { postgres: string }).postgres, max: 4 });
  try {
    const seedStart = Date.now();
    const userSmall = await benchUser(byokSmall, 'load');
    const userBig = await benchUser(byokBig, 'load');
    const newSession = async (byok: Byok, userId: string) => (await byok.chat.createSession(userId, { provider: 'gemini', model: MODEL })).id;
    const t0 = Date.now() - BIG_TABLE;
    // Small database: one session of 10,000 messages, the whole table.
    const growthSmall = await newSession(byokSmall, userSmall);
    await seedPgSession(poolSmall, PREFIX, growthSmall, userSmall, GROWTH_SESSION, t0);
    // Big database, 1,000,000 messages: the 100,000-message session, a 10,000-message one
    // like the small database's, and 89 other sessions of 10,000.
    const bigSession = await newSession(byokBig, userBig);
    await seedPgSession(poolBig, PREFIX, bigSession, userBig, BIG_SESSION, t0);
    const growthBig = await newSession(byokBig, userBig);
    await seedPgSession(poolBig, PREFIX, growthBig, userBig, GROWTH_SESSION, t0);
    const fillers = (BIG_TABLE - BIG_SESSION - GROWTH_SESSION) / GROWTH_SESSION;
    for (let i = 0; i < fillers; i++) await seedPgSession(poolBig, PREFIX, await newSession(byokBig, userBig), userBig, GROWTH_SESSION, t0);
    await poolSmall.query(`VACUUM ANALYZE ${T.messages}`);
    await poolBig.query(`VACUUM ANALYZE ${T.messages}`);
    const counts = await poolBig.query(`SELECT count(*)::int AS n FROM ${T.messages}`);
    console.log(`memory load: seeded ${counts.rows[0].n} + ${GROWTH_SESSION} messages in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);

    const window = async (byok: Byok, userId: string, sessionId: string) => {
      const preview = await byok.chat.previewContext(userId, sessionId);
      if (preview.messageIds.length !== 50) throw new Error(`window of ${preview.messageIds.length} messages, expected 50`);
    };
    const rawText = `SELECT ${MESSAGE_COLUMNS} FROM ${T.messages} WHERE session_id = $1 AND user_id = $2 ORDER BY seq DESC LIMIT 50`;
    const rawLoad = async () => {
      const { rows } = await poolBig.query({ name: 'bench-last-50', text: rawText, values: [bigSession, userBig] });
      if (rows.length !== 50) throw new Error('raw load short');
    };
    const plan = await poolBig.query(`EXPLAIN ${rawText.replace('$1', `'${bigSession}'`).replace('$2', `'${userBig}'`)}`);
    console.log(`memory load: raw query plan: ${plan.rows.map((r) => r['QUERY PLAN']).join(' / ')}`);

    const figures: Figure[] = [];
    const load = await compare(
      () => perOpFor(1_000, () => window(byokBig, userBig, bigSession), 3),
      () => perOpFor(1_000, rawLoad),
      { rounds: 5 },
    );
    console.log(`memory load (PostgreSQL, ${BIG_SESSION} in the session): byok window ${fmt(load.ours)} ms; raw indexed query ${fmt(load.baseline)} ms`);
    figures.push(ratioFigure('memory.load_ratio', load, '≤ 1.5'));

    // Not a figure: what the same path read costs when the walk stops after the page
    // (a depth counter in the recursive CTE), the change proposed for the store's path().
    const leaf = (await poolBig.query(`SELECT active_leaf_id FROM ${T.sessions} WHERE id = $1`, [bigSession])).rows[0].active_leaf_id as string;
    const boundedText = `WITH RECURSIVE chat_path(id, parent_id, seq, depth) AS (
        SELECT id, parent_id, seq, 1 FROM ${T.messages} WHERE id = $3 AND session_id = $1 AND user_id = $2
        UNION ALL
        SELECT m.id, m.parent_id, m.seq, p.depth + 1 FROM ${T.messages} m JOIN chat_path p ON p.parent_id = m.id
        WHERE m.session_id = $1 AND m.user_id = $2 AND m.seq < p.seq AND p.depth < $4)
      SELECT ${MESSAGE_COLUMNS.split(', ').map((c) => `m.${c}`).join(', ')} FROM ${T.messages} m JOIN chat_path p ON p.id = m.id ORDER BY m.seq DESC LIMIT $4`;
    const bounded = await compare(
      () =>
        perOpFor(500, async () => {
          const { rows } = await poolBig.query({ name: 'bench-bounded-path', text: boundedText, values: [bigSession, userBig, leaf, 52] });
          if (rows.length !== 52) throw new Error('bounded walk short');
        }),
      () => perOpFor(500, rawLoad),
      { rounds: 5 },
    );
    console.log(`memory load sketch: a depth-bounded path walk of 52 in the ${BIG_SESSION}-message session ${fmt(bounded.ours)} ms vs raw ${fmt(bounded.baseline)} ms (ratio ${median(bounded.ratios).toFixed(2)})`);

    const growth = await compare(
      () => perOpFor(1_000, () => window(byokBig, userBig, growthBig)),
      () => perOpFor(1_000, () => window(byokSmall, userSmall, growthSmall)),
      { rounds: 5 },
    );
    console.log(`memory load growth (${GROWTH_SESSION}-message session): ${BIG_TABLE} in the table ${fmt(growth.ours)} ms; ${GROWTH_SESSION} in the table ${fmt(growth.baseline)} ms`);
    figures.push({ ...ratioFigure('memory.load_growth', growth, '≤ 1.5'), note: `a ${GROWTH_SESSION}-message session in a table of ${BIG_TABLE} vs ${GROWTH_SESSION}` });
    return figures;
  } finally {
    await poolSmall.end();
    await poolBig.end();
    await byokSmall.close();
    await byokBig.close();
    await standIn.close();
    await small.drop();
    await big.drop();
  }
}

// ---------------------------------------------------------------------------- sealed loads (PostgreSQL)

/**
 * Seals one chat field as byok's `memory.sealContent` stores it (AES-256-GCM under the
 * user's chat data key, AAD binding user, row and field; marker, then base64url of
 * nonce ‖ tag ‖ ciphertext). Used only to seed fast; the sealed instance opening every
 * seeded row (checked) is what proves the format.
 */
function sealLikeByok(key: Buffer, userId: string, rowId: string, field: 'text' | 'parts', plaintext: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(`byok-chat\u0000${userId}\u0000${rowId}\u0000${field}`, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `\u0001bs1:${Buffer.concat([nonce, cipher.getAuthTag(), body]).toString('base64url')}`;
}

async function sealedFigures(): Promise<Figure[]> {
  const standIn = await startGeminiStandIn({ acceptKey: () => true });
  const database = await createTestDatabase('postgres');
  const chat = { context: { maxMessages: 50 } };
  const plain = await makeByok(database, standIn.url, { chat });
  const sealed = await makeByok(database, standIn.url, { chat, memory: { sealContent: true } });
  const pool = new pg.Pool({ connectionString: (database.config as { postgres: string }).postgres, max: 4 });
  const sealer = createSealer({ kms: localKms({ keys: MASTER }) });
  try {
    const userId = await benchUser(plain, 'sealed');
    // A titled session makes the user's chat data key (the title is sealed with it).
    const sealedBig = (await sealed.chat.createSession(userId, { provider: 'gemini', model: MODEL, title: 'sealed bench' })).id;
    const keyRow = (await pool.query(`SELECT id, sealed FROM ${PREFIX}chat_content_keys WHERE user_id = $1`, [userId])).rows[0] as { id: string; sealed: string };
    const key = await sealer.open(Buffer.from(keyRow.sealed, 'base64url'), { purpose: 'chat_content', userId, recordId: keyRow.id });
    const seal = (rowId: string, field: 'text' | 'parts', text: string) => sealLikeByok(key, userId, rowId, field, text);
    const t0 = Date.now() - BIG_SESSION;
    const sealedSmall = (await sealed.chat.createSession(userId, { provider: 'gemini', model: MODEL })).id;
    const plainBig = (await plain.chat.createSession(userId, { provider: 'gemini', model: MODEL })).id;
    const plainSmall = (await plain.chat.createSession(userId, { provider: 'gemini', model: MODEL })).id;
    const SMALL = 100;
    await seedSealedPgSession(pool, PREFIX, sealedBig, userId, BIG_SESSION, t0, seal);
    await seedSealedPgSession(pool, PREFIX, sealedSmall, userId, SMALL, t0, seal);
    await seedPgSession(pool, PREFIX, plainBig, userId, BIG_SESSION, t0);
    await seedPgSession(pool, PREFIX, plainSmall, userId, SMALL, t0);
    await pool.query(`VACUUM ANALYZE ${T.messages}`);

    const stored = (await pool.query(`SELECT text FROM ${T.messages} WHERE session_id = $1 AND seq = $2`, [sealedBig, BIG_SESSION])).rows[0] as { text: string };
    if (!stored.text.startsWith('\u0001bs1:')) throw new Error('the sealed session is not stored sealed');
    const window = (byok: Byok, sessionId: string, count: number) => async () => {
      const preview = await byok.chat.previewContext(userId, sessionId);
      const first = preview.messages[0]?.parts[0];
      if (preview.messageIds.length !== 50 || first?.type !== 'text' || first.text !== seededText(count - 49)) throw new Error('the window is not the last 50 messages in plain text');
    };
    const big = await compare(() => perOpFor(1_000, window(sealed, sealedBig, BIG_SESSION), 3), () => perOpFor(1_000, window(plain, plainBig, BIG_SESSION), 3), { rounds: 5 });
    console.log(`memory sealed load (${BIG_SESSION} in the session): sealed ${fmt(big.ours)} ms; plain ${fmt(big.baseline)} ms`);
    const small = await compare(() => perOpFor(1_000, window(sealed, sealedSmall, SMALL)), () => perOpFor(1_000, window(plain, plainSmall, SMALL)), { rounds: 5 });
    console.log(`memory sealed load (${SMALL} in the session): sealed ${fmt(small.ours)} ms; plain ${fmt(small.baseline)} ms`);
    return [
      ratioFigure('memory.sealed_load_ratio', big, '≤ 1.5'),
      { ...ratioFigure('memory.sealed_load_ratio_100_session', small), note: 'informational: a 100-message session, where the path walk hides less of the opening' },
    ];
  } finally {
    await sealer.close();
    await pool.end();
    await sealed.close();
    await plain.close();
    await standIn.close();
    await database.drop();
  }
}

// ---------------------------------------------------------------------------- first delta (SQLite)

async function firstDeltaFigures(): Promise<Figure[]> {
  const standIn = await startGeminiStandIn({ acceptKey: () => true });
  const database = await createTestDatabase('sqlite');
  const provider = gemini({ baseUrl: standIn.url });
  const byok = await createByok({ database: database.config, kms: localKms({ keys: MASTER }), providers: [provider], rateLimits: { chat_send: { perUser: 1_000_000, perIp: 1_000_000 } } });
  try {
    const userId = await benchUser(byok, 'first-delta');
    const prompt = 'Hello, how are you today?';
    const TURNS = 40;
    const viaByok = async (): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < TURNS; i++) {
        const session = await byok.chat.createSession(userId, { provider: 'gemini', model: MODEL });
        const start = process.hrtime.bigint();
        let first: number | undefined;
        for await (const event of byok.chat.send(userId, session.id, { text: prompt })) {
          if (first === undefined && event.chunk.type === 'text-delta') first = Number(process.hrtime.bigint() - start) / 1e6;
        }
        if (first === undefined) throw new Error('no text delta from chat.send');
        times.push(first);
      }
      return median(times);
    };
    const direct = async (): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < TURNS; i++) {
        const start = process.hrtime.bigint();
        let first: number | undefined;
        for await (const event of provider.stream(KEY, { model: MODEL, messages: [{ role: 'user', parts: [{ type: 'text', text: prompt }] }] })) {
          if (first === undefined && event.type === 'text-delta') first = Number(process.hrtime.bigint() - start) / 1e6;
        }
        if (first === undefined) throw new Error('no text delta from stream()');
        times.push(first);
      }
      return median(times);
    };
    const c = await compare(viaByok, direct, { rounds: 7, warmup: 2 });
    const overhead = c.ours.map((o, i) => o - c.baseline[i]!);
    console.log(`memory first delta (SQLite): p50 chat.send ${fmt(c.ours)} ms; p50 provider.stream ${fmt(c.baseline)} ms`);
    return [summary('memory.first_delta_overhead_ms', overhead, 'ms', '≤ 2')];
  } finally {
    await byok.close();
    await standIn.close();
    await database.drop();
  }
}

// ---------------------------------------------------------------------------- 1,000 streams (PostgreSQL)

const STREAMS = Number(process.env.BENCH_MEMORY_STREAMS ?? 1_000);
const STREAM_ROUNDS = Number(process.env.BENCH_MEMORY_STREAM_ROUNDS ?? 2);

async function startStandInProcess(): Promise<{ url: string; close(): Promise<void> }> {
  const script = fileURLToPath(new URL('../memory/stand-in-process.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`stand-in process exited (${code})`)));
    lines.once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
  });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}

async function streamFigures(): Promise<Figure[]> {
  const standIn = await startStandInProcess();
  const database = await createTestDatabase('postgres');
  const byok = await makeByok(database, standIn.url);
  try {
    const userId = await benchUser(byok, 'streams');
    const newSession = async () => (await byok.chat.createSession(userId, { provider: 'gemini', model: MODEL })).id;
    // warm-up: one turn (the model list is fetched and cached, the key's data key opened)
    for await (const _ of byok.chat.send(userId, await newSession(), { text: 'warm-up' }));

    const delays: number[] = [];
    const writes: number[] = [];
    const durations: number[] = [];
    const lost: number[] = [];
    for (let round = 0; round < STREAM_ROUNDS; round++) {
      const sessions = await Promise.all(Array.from({ length: STREAMS }, newSession));
      const prompts = sessions.map((_, i) => `reply ${round}-${i} r${round}x${i}`);
      const counter = countPgWrites();
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const start = Date.now();
      const endedWith: string[] = [];
      const firstAt: number[] = [];
      const lastAt: number[] = [];
      let streamed: string[];
      try {
        streamed = await Promise.all(
          sessions.map(async (sessionId, i) => {
            let text = '';
            for await (const event of byok.chat.send(userId, sessionId, { text: prompts[i]! })) {
              if (event.chunk.type === 'text-delta') {
                if (text === '') firstAt[i] = Date.now() - start;
                text += event.chunk.delta;
                lastAt[i] = Date.now() - start;
              }
              endedWith[i] = event.chunk.type;
            }
            return text;
          }),
        );
      } finally {
        loop.disable();
        counter.restore();
      }
      const duration = Date.now() - start;
      // every reply stored complete and byte-identical to what was streamed (and to what the stand-in sent)
      let ok = 0;
      const bad: string[] = [];
      for (let i = 0; i < STREAMS; i++) {
        const page = await byok.chat.listMessages(userId, sessions[i]!, { limit: 2 });
        const reply = page.items.at(-1);
        const expected = streamReply(prompts[i]!);
        const partsText = reply?.parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
        if (reply?.role === 'assistant' && reply.status === 'complete' && reply.text === streamed[i] && partsText === streamed[i] && streamed[i] === expected) ok += 1;
        else {
          bad.push(
            `reply ${i}: stored ${reply?.status}${reply?.errorCode ? ` (${reply.errorCode})` : ''} with ${reply?.text.length} chars; streamed ${streamed[i]!.length} of ${expected.length} chars${streamed[i] === expected ? ' (all)' : ''}, last chunk ${endedWith[i]}`,
          );
        }
      }
      lost.push(STREAMS - ok);
      if (bad.length > 0) console.log(`memory streams round ${round}: ${bad.length} replies NOT stored complete and identical:\n  ${bad.slice(0, 10).join('\n  ')}${bad.length > 10 ? `\n  … and ${bad.length - 10} more` : ''}`);
      delays.push(loop.percentile(99) / 1e6);
      writes.push(counter.writes / STREAMS);
      durations.push(duration);
      console.log(
        `memory streams round ${round}: ${ok}/${STREAMS} replies stored complete and identical; ${(duration / 1000).toFixed(1)} s; loop delay p50 ${(loop.percentile(50) / 1e6).toFixed(1)} p99 ${(loop.percentile(99) / 1e6).toFixed(1)} max ${(loop.max / 1e6).toFixed(1)} ms; ${counter.writes} writes (${counter.statements} statements); first delta p50 ${percentile(firstAt.filter(Number.isFinite), 50)} p99 ${percentile(firstAt.filter(Number.isFinite), 99)} ms, first to last delta p50 ${percentile(lastAt.map((l, j) => l - firstAt[j]!).filter(Number.isFinite), 50)} ms`,
      );
    }
    // Same run, no byok: the same number of concurrent provider.stream() reads, to tell the
    // provider client's share of the loop delay from chat memory's.
    const provider = gemini({ baseUrl: standIn.url });
    const direct = monitorEventLoopDelay({ resolution: 10 });
    direct.enable();
    const directStart = Date.now();
    const directTexts = await Promise.all(
      Array.from({ length: STREAMS }, async (_, i) => {
        let text = '';
        const prompt = `direct ${i} d${i}`;
        try {
          for await (const event of provider.stream(KEY, { model: MODEL, messages: [{ role: 'user', parts: [{ type: 'text', text: prompt }] }] })) {
            if (event.type === 'text-delta') text += event.text;
          }
        } catch (error) {
          return `failed: ${(error as { code?: string }).code ?? String(error)}`;
        }
        return text === streamReply(prompt) ? 'ok' : 'differs';
      }),
    );
    direct.disable();
    console.log(
      `memory streams without byok: ${directTexts.length} provider.stream() reads, ${directTexts.filter((t) => t === 'ok').length} complete (${[...new Set(directTexts.filter((t) => t !== 'ok'))].join(', ') || 'no failures'}); ${((Date.now() - directStart) / 1000).toFixed(1)} s; loop delay p50 ${(direct.percentile(50) / 1e6).toFixed(1)} p99 ${(direct.percentile(99) / 1e6).toFixed(1)} max ${(direct.max / 1e6).toFixed(1)} ms`,
    );
    const note = `${STREAMS} concurrent replies of ~1,000 tokens (3.4 kB) in 200 chunks over ~5 s, stand-in in another process, pool 10; rounds took ${fmt(durations.map((d) => d / 1000), 1)} s`;
    return [
      summary('memory.stream_loop_delay_p99_ms', delays, 'ms', '≤ 50', note),
      { metric: 'memory.stream_loop_delay_p99_ms_provider_only', value: direct.percentile(99) / 1e6, unit: 'ms', note: `informational: the same ${STREAMS} streams read straight from provider.stream(), no byok; ${directTexts.filter((t) => t === 'ok').length} completed` },
      summary('memory.stream_writes_per_reply', writes, 'writes', '≤ 22'),
      summary('memory.stream_replies_not_stored_intact', lost, 'replies', '0', `of ${STREAMS} per round`),
    ];
  } finally {
    await byok.close();
    await standIn.close();
    await database.drop();
  }
}

// ---------------------------------------------------------------------------- vs Mastra (SQLite / libsql files)

async function mastraFigures(): Promise<Figure[]> {
  const standIn = await startGeminiStandIn({ acceptKey: () => true });
  const database = await createTestDatabase('sqlite');
  const byok = await makeByok(database, standIn.url);
  const dir = mkdtempSync(join(tmpdir(), 'byok-bench-mastra-'));
  // Mastra memory on libsql, file-backed (LibSQLStore sets WAL; libsql's default
  // synchronous is NORMAL, byok's setting too: checked below), everything but history off.
  const storage = new LibSQLStore({ url: `file:${join(dir, 'mastra.db')}` });
  const memory = new Memory({
    storage,
    options: { lastMessages: 20, semanticRecall: false, workingMemory: { enabled: false }, threads: { generateTitle: false } },
  });
  try {
    await storage.init();
    const userId = await benchUser(byok, 'mastra');
    const resourceId = userId;
    const newThread = async () => {
      const id = uuidv7();
      const now = new Date();
      await memory.saveThread({ thread: { id, resourceId, title: 'bench', createdAt: now, updatedAt: now, metadata: {} } });
      return id;
    };
    const mastraMessage = (threadId: string, i: number) => ({
      id: uuidv7(),
      threadId,
      resourceId,
      role: (i % 2 === 0 ? 'user' : 'assistant') as 'user' | 'assistant',
      createdAt: new Date(),
      content: { format: 2 as const, parts: [{ type: 'text' as const, text: `${FILLER} ${i}` }] },
    });
    const client = (storage as unknown as { client: { execute(sql: string): Promise<{ rows: Array<Record<string, unknown>> }> } }).client;
    const durability = async () => {
      const [sync, journal] = await Promise.all([client.execute('PRAGMA synchronous'), client.execute('PRAGMA journal_mode')]);
      return `synchronous ${String(Object.values(sync.rows[0]!)[0])}, journal ${String(Object.values(journal.rows[0]!)[0])}`;
    };
    const before = await durability();

    // appends per second: one message per call, each side into its own growing session/thread
    const ours = byokAppender(byok, userId, (await byok.chat.createSession(userId, { provider: 'gemini', model: MODEL })).id);
    const appendThread = await newThread();
    let mastraSeq = 0;
    const theirs = () => memory.saveMessages({ format: 'v2', messages: [mastraMessage(appendThread, mastraSeq++)] });
    const N = 1_000;
    const appends = await compare(() => perOp(N, ours), () => perOp(N, theirs), { rounds: 5 });
    console.log(`memory vs Mastra appends: byok ${fmt(appends.ours)} ms/op; Mastra ${fmt(appends.baseline)} ms/op`);

    // last-20 loads per second at 5,000 messages
    const HISTORY = 5_000;
    const loadSession = (await byok.chat.createSession(userId, { provider: 'gemini', model: MODEL })).id;
    const fill = byokAppender(byok, userId, loadSession);
    for (let i = 0; i < HISTORY; i++) await fill();
    const loadThread = await newThread();
    for (let i = 0; i < HISTORY; i += 500) {
      await memory.saveMessages({ format: 'v2', messages: Array.from({ length: 500 }, (_, j) => mastraMessage(loadThread, i + j)) });
    }
    const ourLoad = async () => {
      const page = await byok.chat.listMessages(userId, loadSession, { limit: 20 });
      if (page.items.length !== 20) throw new Error('byok load short');
    };
    const theirLoad = async () => {
      const result = await memory.query({ threadId: loadThread, resourceId, selectBy: { last: 20 } });
      if (result.messagesV2.length !== 20) throw new Error(`Mastra load gave ${result.messagesV2.length}`);
    };
    const loads = await compare(() => perOpFor(1_000, ourLoad), () => perOpFor(1_000, theirLoad), { rounds: 5 });
    console.log(`memory vs Mastra last-20 loads at ${HISTORY}: byok ${fmt(loads.ours)} ms/op; Mastra ${fmt(loads.baseline)} ms/op`);
    // Not a figure: the same last-20 read as a depth-bounded path walk through prepared
    // better-sqlite3 (what the store's path() could do), next to both.
    const file = (database.config as { sqlite: string }).sqlite;
    const raw = new Database(file, { readonly: true });
    try {
      const leaf = (raw.prepare(`SELECT active_leaf_id FROM ${T.sessions} WHERE id = ?`).pluck().get(loadSession)) as string;
      const walk = raw.prepare(`WITH RECURSIVE chat_path(id, parent_id, seq, depth) AS (
          SELECT id, parent_id, seq, 1 FROM ${T.messages} WHERE id = ? AND session_id = ? AND user_id = ?
          UNION ALL
          SELECT m.id, m.parent_id, m.seq, p.depth + 1 FROM ${T.messages} m JOIN chat_path p ON p.parent_id = m.id
          WHERE m.session_id = ? AND m.user_id = ? AND m.seq < p.seq AND p.depth < 21)
        SELECT m.* FROM ${T.messages} m JOIN chat_path p ON p.id = m.id ORDER BY m.seq DESC LIMIT 21`);
      const sketch = await perOpFor(500, async () => {
        if (walk.all(leaf, loadSession, userId, loadSession, userId).length !== 21) throw new Error('walk short');
      });
      console.log(`memory load sketch (SQLite): a depth-bounded walk of 21 at ${HISTORY} messages ${sketch.toFixed(3)} ms/op`);
    } finally {
      raw.close();
    }
    const after = await durability();
    const note = `@mastra/memory 0.15.13 on @mastra/libsql 0.16.4 (the last releases without engines ≥ 22.13), libsql ${after}${after === before ? '' : ` (was ${before})`}`;
    return [speedupFigure('memory.append_speedup_vs_mastra', appends, '≥ 3', note), speedupFigure('memory.load_speedup_vs_mastra', loads, '≥ 30')];
  } finally {
    await byok.close();
    await standIn.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The `memory` group (issue 9 §14): chat memory's appends, context-window loads, sealed
 * loads, first-delta overhead, 1,000 concurrent streamed replies, and Mastra memory.
 */
export async function run(): Promise<Figure[]> {
  const figures: Figure[] = [];
  if (wanted('append')) figures.push(...(await appendFigures()));
  if (wanted('load')) figures.push(...(await loadFigures()));
  if (wanted('sealed')) figures.push(...(await sealedFigures()));
  if (wanted('delta')) figures.push(...(await firstDeltaFigures()));
  if (wanted('streams')) figures.push(...(await streamFigures()));
  if (wanted('mastra')) figures.push(...(await mastraFigures()));
  return figures;
}

import { expect, it } from 'vitest';
import { generateAuditCheckpointKeys, type AuditCheckpointSink, type AuditVerifyReport, type SignedAuditCheckpoint } from '@byok/core';
import { AuditService } from '@byok/core/audit';
import { auditHashedFields, auditRowHash, signAuditCheckpoint } from '@byok/core/audit';
import { uuidv7, type AuditRow, type Store } from '@byok/core/store';
import type { StoreTamper } from './store-tamper';

/** The store under test and a tamper that corrupts it behind its back. */
export interface AuditTamperTarget {
  store: Store;
  tamper: StoreTamper;
}

/**
 * Registers byok's audit tamper-detection cases (vitest `it` blocks) in the current
 * `describe`: an edited row (a field, the metadata, its bytes), an edited chain re-hashed
 * to the end, a deleted row, inserted rows (past the head, and in the middle), reordered
 * rows, a truncated tail, a dropped chain, a missing or wrong head, forged checkpoints and
 * erasure of personal data. Each case writes its own chains through `AuditService`, so one
 * store can serve every case (and other suites' rows do not matter: verification is scoped
 * to the case's chains). `storeConformance()` runs them for every store.
 *
 * @example
 * import { beforeAll, describe } from 'vitest';
 * import { createStore, type Store } from '@byok/core/store';
 * describe('audit tamper detection', () => {
 *   let store: Store;
 *   beforeAll(async () => void (store = await createStore({ database: { memory: true } })));
 *   auditTamperCases(() => ({ store, tamper: memoryTamper(store) }));
 * });
 */
export function auditTamperCases(target: () => AuditTamperTarget): void {
  it('verifies an intact trail, with and without checkpoints', async () => {
    const t = await seedTrail(target().store);
    const plain = await t.verify(false);
    expect(plain).toMatchObject({ ok: true, chains: 2, rows: 8, checkpoints: 0, problems: [] });
    expect(plain.firstBad).toBeUndefined();
    expect(t.checkpoints.map((c) => [c.chain, c.seq])).toEqual([
      [t.chain, 2],
      [t.bystanderChain, 2],
      [t.chain, 4],
      [t.chain, 6],
    ]);
    expect(await t.verify(true)).toMatchObject({ ok: true, chains: 2, rows: 8, checkpoints: 4 });
  });

  it('names an edited field (hash_mismatch)', async () => {
    const { store, tamper } = target();
    const t = await seedTrail(store);
    await tamper.updateAuditRow(t.rows[2]!.id, { target: 'someone-else' });
    for (const withCheckpoints of [false, true]) {
      expectFirstBad(await t.verify(withCheckpoints), { chain: t.chain, seq: 3, id: t.rows[2]!.id, reason: 'hash_mismatch' });
    }
  });

  it('names edited metadata, and metadata bytes that are no longer canonical', async () => {
    const { store, tamper } = target();
    const t = await seedTrail(store);
    const row = t.rows[2]!; // key.set {"last4":"7Q2x","provider":"gemini"}
    expect(row.metadata).toBe('{"last4":"7Q2x","provider":"gemini"}');
    await tamper.updateAuditRow(row.id, { metadata: '{"last4":"0000","provider":"gemini"}' });
    expectFirstBad(await t.verify(false), { chain: t.chain, seq: 3, id: row.id, reason: 'hash_mismatch' });
    await tamper.updateAuditRow(row.id, { metadata: '{"provider":"gemini","last4":"7Q2x"}' });
    expectFirstBad(await t.verify(false), { chain: t.chain, seq: 3, id: row.id, reason: 'metadata_not_canonical' });
    await tamper.updateAuditRow(row.id, { metadata: row.metadata });
    expect((await t.verify(true)).ok).toBe(true);
  });

  it('names the next row when one row is edited and re-hashed alone (prev_hash_mismatch)', async () => {
    const { store, tamper } = target();
    const t = await seedTrail(store);
    // Row 3 hashes correctly again, so only row 4's link to it can tell.
    const edited = { ...t.rows[2]!, outcome: 'failure' as const };
    await tamper.updateAuditRow(edited.id, { outcome: edited.outcome, hash: auditRowHash(edited.prevHash, auditHashedFields(edited)) });
    for (const withCheckpoints of [false, true]) {
      expectFirstBad(await t.verify(withCheckpoints), { chain: t.chain, seq: 4, id: t.rows[3]!.id, reason: 'prev_hash_mismatch' });
    }
  });

  it('needs checkpoints to catch an edit re-hashed to the end of the chain (checkpoint_mismatch)', async () => {
    const { store, tamper } = target();
    const t = await seedTrail(store);
    // An attacker who knows the scheme edits row 3 and recomputes every later hash and the head.
    const edited = t.rows.map((row) => ({ ...row }));
    edited[2]!.outcome = 'failure';
    await rehash(tamper, edited, 2);
    expect((await t.verify(false)).ok).toBe(true);
    expectFirstBad(await t.verify(true), { chain: t.chain, seq: 4, id: t.rows[3]!.id, reason: 'checkpoint_mismatch' });
  });

  it('names a deleted row (row_missing)', async () => {
    const { store, tamper } = target();
    const t = await seedTrail(store);
    await tamper.deleteAuditRow(t.rows[3]!.id);
    expectFirstBad(await t.verify(false), { chain: t.chain, seq: 4, id: null, reason: 'row_missing' });
    // seq 4 was checkpointed, so with checkpoints the missing row is named by id
    expectFirstBad(await t.verify(true), { chain: t.chain, seq: 4, id: t.rows[3]!.id, reason: 'row_missing' });
  });

  it('names a row inserted after the head (row_after_head)', async () => {
    const { store, tamper } = target();
    const t = await seedTrail(store);
    const forged = forgeRow(t.rows[5]!, { action: 'auth.logout_all' });
    await tamper.insertAuditRow(forged);
    for (const withCheckpoints of [false, true]) {
      expectFirstBad(await t.verify(withCheckpoints), { chain: t.chain, seq: 7, id: forged.id, reason: 'row_after_head' });
    }
  });

  it('names a row inserted in the middle, later rows renumbered (row_inserted)', async () => {
    const { store, tamper } = target();
    const t = await seedTrail(store);
    for (const row of [...t.rows.slice(3)].reverse()) await tamper.updateAuditRow(row.id, { seq: row.seq + 1 });
    const forged = forgeRow(t.rows[2]!, { action: 'key.removed' });
    await tamper.insertAuditRow(forged);
    await tamper.setHead({ chain: t.chain, lastSeq: 7, lastHash: t.rows[5]!.hash });
    expectFirstBad(await t.verify(false), { chain: t.chain, seq: 4, id: forged.id, reason: 'row_inserted' });
    // the checkpoint at seq 4 pinned the original row there
    expectFirstBad(await t.verify(true), { chain: t.chain, seq: 4, id: forged.id, reason: 'checkpoint_mismatch' });
  });

  it('names reordered rows (row_reordered)', async () => {
    const { store, tamper } = target();
    const t = await seedTrail(store);
    await tamper.swapAuditSeq(t.rows[2]!.id, t.rows[3]!.id);
    for (const withCheckpoints of [false, true]) {
      expectFirstBad(await t.verify(withCheckpoints), { chain: t.chain, seq: 3, id: t.rows[3]!.id, reason: 'row_reordered' });
    }
  });

  it('names a truncated tail: rows and head gone (truncated, needs checkpoints)', async () => {
    const { store, tamper } = target();
    const t = await seedTrail(store);
    await tamper.deleteAuditRow(t.rows[5]!.id);
    await tamper.deleteAuditRow(t.rows[4]!.id);
    await tamper.setHead({ chain: t.chain, lastSeq: 4, lastHash: t.rows[3]!.hash });
    expect((await t.verify(false)).ok).toBe(true);
    const report = await t.verify(true);
    expectFirstBad(report, { chain: t.chain, seq: 5, id: null, reason: 'truncated' });
    expect(report.firstBad?.detail).toContain('seq 6');
  });

  it('names a tail deleted while the head stayed (row_missing)', async () => {
    const { store, tamper } = target();
    const t = await seedTrail(store);
    await tamper.deleteAuditRow(t.rows[5]!.id);
    expectFirstBad(await t.verify(false), { chain: t.chain, seq: 6, id: null, reason: 'row_missing' });
    expectFirstBad(await t.verify(true), { chain: t.chain, seq: 6, id: t.rows[5]!.id, reason: 'row_missing' });
  });

  it('names a dropped chain (chain_missing, needs checkpoints)', async () => {
    const { store, tamper } = target();
    const t = await seedTrail(store);
    await tamper.deleteChain(t.chain);
    const report = await t.verify(true);
    expectFirstBad(report, { chain: t.chain, seq: 1, id: null, reason: 'chain_missing' });
    expect(report.problems).toHaveLength(1); // the bystander's chain is fine
  });

  it('names a missing or wrong head (head_missing, head_mismatch)', async () => {
    const { store, tamper } = target();
    const t = await seedTrail(store);
    await tamper.setHead({ chain: t.chain, lastSeq: 6, lastHash: 'e'.repeat(64) });
    expectFirstBad(await t.verify(false), { chain: t.chain, seq: 6, id: t.rows[5]!.id, reason: 'head_mismatch' });
    await tamper.deleteHead(t.chain);
    expectFirstBad(await t.verify(false), { chain: t.chain, seq: 6, id: t.rows[5]!.id, reason: 'head_missing' });
  });

  it('refuses forged and altered checkpoints (checkpoint_invalid)', async () => {
    const t = await seedTrail(target().store);
    const stranger = generateAuditCheckpointKeys();
    const forged = signAuditCheckpoint({ chain: t.chain, seq: 6, id: t.rows[5]!.id, hash: 'f'.repeat(64), at: 1 }, stranger.privateKey);
    const altered: SignedAuditCheckpoint = { ...t.checkpoints[0]!, hash: 'd'.repeat(64) };
    const report = await t.audit.verify({ chains: [t.chain, t.bystanderChain], checkpoints: [...t.checkpoints, forged, altered] });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.reason)).toEqual(['checkpoint_invalid', 'checkpoint_invalid']);
    expect(report.checkpoints).toBe(4); // the genuine ones still checked
  });

  it('still verifies after a user is erased, personal rows gone', async () => {
    const { store } = target();
    const t = await seedTrail(store);
    expect(await store.audit.personal(t.rows.map((r) => r.id))).toHaveLength(6);
    await t.audit.eraseUser(t.userId);
    expect(await store.audit.personal(t.rows.map((r) => r.id))).toEqual([]);
    expect(await store.audit.hasSalt(t.userId)).toBe(false);
    expect(await t.verify(true)).toMatchObject({ ok: true, rows: 8 });
    const { items } = await t.audit.list(t.userId, { limit: 10 });
    expect(items.map((i) => [i.ip, i.userAgent])).toEqual(Array.from({ length: 6 }, () => [null, null]));
  });
}

interface SeededTrail {
  audit: AuditService;
  userId: string;
  chain: string;
  bystanderChain: string;
  rows: AuditRow[];
  checkpoints: SignedAuditCheckpoint[];
  verify(withCheckpoints: boolean): Promise<AuditVerifyReport>;
}

/** Six rows on a fresh user's chain and two on a bystander's; a checkpoint every 2 rows. */
async function seedTrail(store: Store): Promise<SeededTrail> {
  const checkpoints: SignedAuditCheckpoint[] = [];
  const sink: AuditCheckpointSink = { write: (checkpoint) => void checkpoints.push(checkpoint) };
  const keys = generateAuditCheckpointKeys();
  let now = 1_764_000_000_000;
  const audit = new AuditService({
    store,
    clock: { now: () => (now += 1000) },
    checkpoints: { signingKey: keys.privateKey, sinks: [sink], every: 2 },
  });
  const userId = uuidv7();
  const bystander = uuidv7();
  const sessionId = uuidv7();
  const personal = { ip: '203.0.113.9', userAgent: 'Mozilla/5.0 (tamper test)' };
  const script: Array<[string, Record<string, unknown>]> = [
    ['auth.login.succeeded', { issuer: 'https://accounts.google.com', sessionId, newUser: true }],
    ['preferences.updated', { fields: ['theme', 'language'] }],
    ['key.set', { provider: 'gemini', last4: '7Q2x' }],
    ['key.tested', { provider: 'gemini', status: 'valid' }],
    ['chat.session.deleted', { sessionId: uuidv7(), messages: 4 }],
    ['auth.logout', { sessionId }],
  ];
  // non-ASCII text checks that the store keeps the exact bytes that were hashed
  const targets: Record<string, string> = { 'key.set': 'gemini', 'key.tested': 'gemini', 'chat.session.deleted': 'Sessão ☕ 😀' };
  const rows: AuditRow[] = [];
  const record = (actor: string, action: string, metadata: Record<string, unknown>) =>
    audit.record({ actorUserId: actor, action, target: targets[action] ?? null, metadata, ...personal });
  for (const [i, [action, metadata]] of script.entries()) {
    rows.push(await record(userId, action, metadata));
    if (i < 2) await record(bystander, 'auth.refresh', { sessionId: uuidv7() });
  }
  const chain = `user:${userId}`;
  const bystanderChain = `user:${bystander}`;
  return {
    audit,
    userId,
    chain,
    bystanderChain,
    rows,
    checkpoints,
    verify: (withCheckpoints) => audit.verify({ chains: [chain, bystanderChain], ...(withCheckpoints ? { checkpoints } : {}) }),
  };
}

/** A row that extends `prev` correctly (as an attacker who knows the scheme would forge it). */
function forgeRow(prev: AuditRow, overrides: Partial<AuditRow>): AuditRow {
  const base = { ...prev, id: uuidv7(), seq: prev.seq + 1, prevHash: prev.hash, metadata: '{}', personalHmac: null, ...overrides };
  return { ...base, hash: auditRowHash(base.prevHash, auditHashedFields(base)) };
}

/** Recomputes hashes from `rows[from]` on (after an edit) and moves the head to match. */
async function rehash(tamper: StoreTamper, rows: AuditRow[], from: number): Promise<void> {
  let prevHash = rows[from - 1]?.hash ?? rows[from]!.prevHash;
  for (const row of rows.slice(from)) {
    const { id, ...fields } = row;
    const hash = auditRowHash(prevHash, auditHashedFields(row));
    await tamper.updateAuditRow(id, { ...fields, prevHash, hash });
    prevHash = hash;
  }
  const last = rows[rows.length - 1]!;
  await tamper.setHead({ chain: last.chain, lastSeq: last.seq, lastHash: prevHash });
}

function expectFirstBad(report: AuditVerifyReport, expected: { chain: string; seq: number; id: string | null; reason: string }): void {
  expect(report.ok).toBe(false);
  expect(report.firstBad).toMatchObject(expected);
  expect(report.firstBad?.detail).toEqual(expect.any(String));
}

import { ByokError } from '../errors';
import type { AuditHead, AuditRepository, AuditRow } from '../store/store';
import { auditChainOwner, auditGenesisHash, auditHashedFields, auditPersonalHmac, auditRowHash } from './audit-chain';
import {
  auditCheckpointKeyId,
  toCheckpointPublicKey,
  verifyAuditCheckpoint,
  type AuditCheckpointKey,
  type SignedAuditCheckpoint,
} from './audit-checkpoint';
import { canonicalJson } from './canonical-json';

/**
 * Why verification failed, per row (or per missing row):
 * - `row_missing`: a seq is absent (a deleted row, or a tail deleted while the head stayed);
 * - `unexpected_seq`: rows are not numbered 1, 2, 3, … (a store returning rows out of order);
 * - `metadata_invalid` / `metadata_not_canonical`: the stored metadata text is not JSON, or
 *   not the RFC 8785 form that was hashed;
 * - `hash_mismatch`: the row's fields no longer hash to its stored hash (an edited row);
 * - `row_reordered`: the row was written with a later seq and moved here (reordered rows);
 * - `row_inserted`: rows were inserted before an original row, renumbering it (the first
 *   inserted row is named);
 * - `prev_hash_mismatch`: the row does not link to the row before it (a forged or
 *   replaced row, or a predecessor rewritten);
 * - `personal_mismatch`: a surviving personal row (ip, user agent) no longer matches the
 *   HMAC the chain committed to;
 * - `checkpoint_mismatch`: a signed checkpoint pinned another hash or id at this seq (a
 *   rewritten and re-hashed chain);
 * - `row_after_head`: a row beyond the chain head (appended without moving the head);
 * - `head_mismatch` / `head_missing`: the head does not match the last row, or is gone;
 * - `truncated`: rows a signed checkpoint covers are gone, head and all;
 * - `chain_missing`: a chain a signed checkpoint covers no longer exists at all;
 * - `checkpoint_invalid`: a checkpoint whose signature does not verify (ignored otherwise).
 */
export type AuditVerifyReason =
  | 'row_missing'
  | 'unexpected_seq'
  | 'metadata_invalid'
  | 'metadata_not_canonical'
  | 'hash_mismatch'
  | 'row_reordered'
  | 'row_inserted'
  | 'prev_hash_mismatch'
  | 'personal_mismatch'
  | 'checkpoint_mismatch'
  | 'row_after_head'
  | 'head_mismatch'
  | 'head_missing'
  | 'truncated'
  | 'chain_missing'
  | 'checkpoint_invalid';

/** The first bad row of a chain. `id` is null when the row is gone and no checkpoint named it. */
export interface AuditVerifyProblem {
  chain: string;
  seq: number;
  id: string | null;
  reason: AuditVerifyReason;
  /** A human sentence with the specifics (never personal data). */
  detail: string;
}

export interface AuditVerifyReport {
  ok: boolean;
  /** Chains examined (every chain with a head, plus every chain a checkpoint names). */
  chains: number;
  /** Rows whose hash was checked. */
  rows: number;
  /** Checkpoints whose signature verified and that were checked against the rows. */
  checkpoints: number;
  /** The first problem found: chains in name order, then invalid checkpoints. */
  firstBad?: AuditVerifyProblem;
  /** The first problem of each bad chain, then every invalid checkpoint. */
  problems: AuditVerifyProblem[];
}

export interface AuditVerifyOptions {
  /** Signed checkpoints read from outside the database (see `readAuditCheckpointFile`). */
  checkpoints?: readonly SignedAuditCheckpoint[];
  /** Ed25519 public keys (or private keys, whose public half is used) that sign checkpoints. */
  publicKeys?: readonly AuditCheckpointKey[];
  /**
   * Verify only these chains (e.g. one user's `user:<id>`); checkpoints of other chains
   * are ignored. Default: every chain with a head plus every chain a checkpoint names.
   */
  chains?: readonly string[];
  /** Rows read per query (default 500). */
  pageSize?: number;
}

/**
 * Verifies every audit chain in a store: seq continuity, each row's hash, each row's link
 * to its predecessor, the heads, surviving personal rows against their HMACs, and —
 * given signed checkpoints — that every checkpointed row and chain is still there with
 * the same hash. Needs no personal rows: erased users' chains verify.
 *
 * @example
 * const checkpoints = await readAuditCheckpointFile('audit-checkpoints.jsonl');
 * const report = await verifyAuditTrail(byok.store.audit, { checkpoints, publicKeys: [process.env.BYOK_AUDIT_PUBLIC_KEY!] });
 * if (!report.ok) console.error(report.firstBad);
 */
export async function verifyAuditTrail(repo: AuditRepository, options: AuditVerifyOptions = {}): Promise<AuditVerifyReport> {
  const pageSize = options.pageSize ?? 500;
  const only = options.chains ? new Set(options.chains) : undefined;
  const { valid, invalid } = checkCheckpoints(
    (options.checkpoints ?? []).filter((checkpoint) => only === undefined || only.has(checkpoint.chain)),
    options.publicKeys ?? [],
  );

  const heads = new Map<string, AuditHead>();
  let chains: string[];
  if (options.chains) {
    chains = [...new Set(options.chains)].sort();
    for (const chain of chains) {
      const head = await repo.head(chain);
      if (head) heads.set(chain, head);
    }
  } else {
    for (const head of await repo.heads()) heads.set(head.chain, head);
    chains = [...new Set([...heads.keys(), ...valid.keys()])].sort();
  }

  const salts = new SaltCache(repo);
  const problems: AuditVerifyProblem[] = [];
  let rows = 0;
  let checkpoints = 0;
  for (const chain of chains) {
    const checkpointsOfChain = valid.get(chain) ?? new Map<number, SignedAuditCheckpoint>();
    checkpoints += checkpointsOfChain.size;
    const result = await verifyChain(repo, chain, heads.get(chain), checkpointsOfChain, salts, pageSize);
    rows += result.rows;
    if (result.problem) problems.push(result.problem);
  }
  problems.push(...invalid);
  const report: AuditVerifyReport = { ok: problems.length === 0, chains: chains.length, rows, checkpoints, problems };
  if (problems[0]) report.firstBad = problems[0];
  return report;
}

function checkCheckpoints(
  checkpoints: readonly SignedAuditCheckpoint[],
  keys: readonly AuditCheckpointKey[],
): { valid: Map<string, Map<number, SignedAuditCheckpoint>>; invalid: AuditVerifyProblem[] } {
  const valid = new Map<string, Map<number, SignedAuditCheckpoint>>();
  const invalid: AuditVerifyProblem[] = [];
  if (checkpoints.length === 0) return { valid, invalid };
  if (keys.length === 0) {
    throw new ByokError('config_invalid', 'Verifying audit checkpoints needs the checkpoint public key');
  }
  const publicKeys = keys.map((key) => toCheckpointPublicKey(key));
  for (const key of publicKeys) auditCheckpointKeyId(key);
  for (const checkpoint of checkpoints) {
    if (!verifyAuditCheckpoint(checkpoint, publicKeys)) {
      invalid.push({
        chain: typeof checkpoint.chain === 'string' ? checkpoint.chain : '?',
        seq: Number.isSafeInteger(checkpoint.seq) ? checkpoint.seq : 0,
        id: typeof checkpoint.id === 'string' ? checkpoint.id : null,
        reason: 'checkpoint_invalid',
        detail: 'a checkpoint is malformed or its signature does not verify under the configured keys',
      });
      continue;
    }
    let bySeq = valid.get(checkpoint.chain);
    if (!bySeq) valid.set(checkpoint.chain, (bySeq = new Map()));
    const earlier = bySeq.get(checkpoint.seq);
    if (earlier && (earlier.hash !== checkpoint.hash || earlier.id !== checkpoint.id)) {
      invalid.push({
        chain: checkpoint.chain,
        seq: checkpoint.seq,
        id: checkpoint.id,
        reason: 'checkpoint_invalid',
        detail: `two signed checkpoints disagree about seq ${checkpoint.seq}`,
      });
      continue;
    }
    bySeq.set(checkpoint.seq, checkpoint);
  }
  return { valid, invalid };
}

interface ChainResult {
  rows: number;
  problem?: AuditVerifyProblem;
}

async function verifyChain(
  repo: AuditRepository,
  chain: string,
  head: AuditHead | undefined,
  checkpoints: Map<number, SignedAuditCheckpoint>,
  salts: SaltCache,
  pageSize: number,
): Promise<ChainResult> {
  let rows = 0;
  const bad = (seq: number, id: string | null, reason: AuditVerifyReason, detail: string): ChainResult => ({
    rows,
    problem: { chain, seq, id, reason, detail },
  });
  const checkpointId = (seq: number): string | null => checkpoints.get(seq)?.id ?? null;
  let maxCheckpoint: SignedAuditCheckpoint | undefined;
  for (const checkpoint of checkpoints.values()) {
    if (!maxCheckpoint || checkpoint.seq > maxCheckpoint.seq) maxCheckpoint = checkpoint;
  }

  let expectedSeq = 1;
  let prevHash = auditGenesisHash(chain);
  let last: AuditRow | undefined;
  const beyondHead: AuditRow[] = [];
  const recent: AuditRow[] = [];
  for (;;) {
    const page = await repo.readChain(chain, expectedSeq - 1, pageSize);
    const personal = await personalRows(repo, page);
    for (const row of page) {
      if (row.seq !== expectedSeq) {
        return row.seq > expectedSeq
          ? bad(expectedSeq, checkpointId(expectedSeq), 'row_missing', `seq ${expectedSeq} is missing: the next row has seq ${row.seq}`)
          : bad(row.seq, row.id, 'unexpected_seq', `expected seq ${expectedSeq}, the store returned seq ${row.seq}`);
      }
      rows++;
      let metadata: unknown;
      try {
        metadata = JSON.parse(row.metadata);
      } catch {
        return bad(row.seq, row.id, 'metadata_invalid', 'the stored metadata is not JSON');
      }
      if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
        return bad(row.seq, row.id, 'metadata_invalid', 'the stored metadata is not a JSON object');
      }
      let canonical: string;
      try {
        canonical = canonicalJson(metadata);
      } catch {
        return bad(row.seq, row.id, 'metadata_invalid', 'the stored metadata cannot be canonicalised');
      }
      if (canonical !== row.metadata) {
        return bad(row.seq, row.id, 'metadata_not_canonical', 'the stored metadata bytes are not the canonical form that was hashed');
      }
      const fields = auditHashedFields(row, metadata as Record<string, unknown>);
      if (auditRowHash(row.prevHash, fields) !== row.hash || row.chain !== chain) {
        // Tell a renumbered row (reordering, or rows inserted before it) from an edited one.
        const movedFrom = row.chain === chain ? originalSeq(row, fields) : undefined;
        if (movedFrom !== undefined && movedFrom > row.seq) {
          return bad(row.seq, row.id, 'row_reordered', `this row was written as seq ${movedFrom}: rows were reordered`);
        }
        if (movedFrom !== undefined && movedFrom < row.seq) {
          const firstInserted = recent.find((r) => r.seq === movedFrom);
          return bad(
            movedFrom,
            firstInserted?.id ?? null,
            'row_inserted',
            `row ${row.id} was written as seq ${movedFrom} and now has seq ${row.seq}: ${row.seq - movedFrom} row(s) were inserted before it`,
          );
        }
        return bad(row.seq, row.id, 'hash_mismatch', 'the row no longer hashes to its stored hash: a field was changed');
      }
      if (row.prevHash !== prevHash) {
        return bad(
          row.seq,
          row.id,
          'prev_hash_mismatch',
          row.seq === 1 ? 'the first row does not start from the genesis hash' : `the row does not link to the row at seq ${row.seq - 1}`,
        );
      }
      const checkpoint = checkpoints.get(row.seq);
      if (checkpoint && (checkpoint.hash !== row.hash || checkpoint.id !== row.id)) {
        return bad(
          row.seq,
          row.id,
          'checkpoint_mismatch',
          `a signed checkpoint pinned ${checkpoint.id === row.id ? 'another hash' : `row ${checkpoint.id}`} at seq ${row.seq}: rows up to here were rewritten`,
        );
      }
      const side = personal.get(row.id);
      if (side && row.personalHmac !== null) {
        const salt = await salts.get(row.actorUserId ?? auditChainOwner(chain));
        if (salt !== undefined && auditPersonalHmac(salt, side) !== row.personalHmac) {
          return bad(row.seq, row.id, 'personal_mismatch', 'the personal row (ip, user agent) was changed');
        }
      }
      if (head && row.seq > head.lastSeq) beyondHead.push(row);
      recent.push(row);
      if (recent.length > MAX_MOVE) recent.shift();
      prevHash = row.hash;
      last = row;
      expectedSeq++;
    }
    if (page.length < pageSize) break;
  }

  const lastSeq = last?.seq ?? 0;
  if (!head) {
    if (last) return bad(lastSeq, last.id, 'head_missing', 'the chain has rows but no head');
    if (!maxCheckpoint) return { rows }; // a chain asked for by name that never existed
    const first = maxCheckpoint?.seq ?? 1;
    return bad(1, checkpointId(1), 'chain_missing', `a signed checkpoint covers seq ${first} of this chain, which no longer exists`);
  }
  let current = head;
  if (lastSeq > current.lastSeq) {
    // Rows may have been appended while we read: look at the head again before judging.
    current = (await repo.head(chain)) ?? current;
    const firstBeyond = beyondHead.find((row) => row.seq > current.lastSeq);
    if (firstBeyond) {
      return bad(firstBeyond.seq, firstBeyond.id, 'row_after_head', `the head is at seq ${current.lastSeq} but a row has seq ${firstBeyond.seq}`);
    }
  }
  if (lastSeq < current.lastSeq) {
    return bad(lastSeq + 1, checkpointId(lastSeq + 1), 'row_missing', `the head is at seq ${current.lastSeq} but the last row has seq ${lastSeq}`);
  }
  if (last && current.lastSeq === lastSeq && current.lastHash !== last.hash) {
    return bad(lastSeq, last.id, 'head_mismatch', 'the head hash differs from the hash of the last row');
  }
  if (maxCheckpoint && maxCheckpoint.seq > lastSeq) {
    return bad(
      lastSeq + 1,
      checkpointId(lastSeq + 1),
      'truncated',
      `a signed checkpoint covers seq ${maxCheckpoint.seq} but the chain ends at seq ${lastSeq}`,
    );
  }
  return { rows };
}

/** How far a renumbered row is looked for (each step is one hash). */
const MAX_MOVE = 64;

/** The seq a row was hashed with, when only its seq changed (within MAX_MOVE); else undefined. */
function originalSeq(row: AuditRow, fields: Parameters<typeof auditRowHash>[1]): number | undefined {
  for (let d = 1; d <= MAX_MOVE; d++) {
    for (const seq of [row.seq + d, row.seq - d]) {
      if (seq >= 1 && auditRowHash(row.prevHash, { ...fields, seq }) === row.hash) return seq;
    }
  }
  return undefined;
}

async function personalRows(repo: AuditRepository, page: AuditRow[]) {
  const ids = page.filter((row) => row.personalHmac !== null).map((row) => row.id);
  const out = new Map<string, { ip: string | null; userAgent: string | null }>();
  if (ids.length === 0) return out;
  for (const row of await repo.personal(ids)) out.set(row.auditId, { ip: row.ip, userAgent: row.userAgent });
  return out;
}

/** Reads salts without creating them: an erased owner's salt stays erased. */
class SaltCache {
  private readonly cache = new Map<string, Promise<string | undefined>>();
  constructor(private readonly repo: AuditRepository) {}

  get(owner: string): Promise<string | undefined> {
    let hit = this.cache.get(owner);
    if (!hit) {
      hit = this.repo.hasSalt(owner).then((exists) => (exists ? this.repo.salt(owner) : undefined));
      this.cache.set(owner, hit);
    }
    return hit;
  }
}

import { z } from 'zod';
import { ByokError } from '../errors';
import type { AuditOutcome, AuditRow, Store } from '../store/store';
import { systemClock, type Clock } from '../util/clock';
import { decodeCursor, encodeCursor, type Page } from '../util/cursor';
import { uuidv7 } from '../util/ids';
import { sanitize } from '../util/sanitize';
import { allowListAuditMetadata, auditActions, defineAuditActions, type AuditActionRegistry } from './audit-actions';
import { auditChainName, auditGenesisHash, auditPersonalHmac, auditRowHash, SYSTEM_CHAIN } from './audit-chain';
import {
  signAuditCheckpoint,
  toCheckpointPrivateKey,
  toCheckpointPublicKey,
  type AuditCheckpoint,
  type AuditCheckpointKey,
  type SignedAuditCheckpoint,
} from './audit-checkpoint';
import type { AuditCheckpointSink } from './audit-checkpoint-sink';
import { verifyAuditTrail, type AuditVerifyReport } from './audit-verifier';
import { canonicalJson } from './canonical-json';

/** What to record. Personal data (ip, user agent) is kept apart and can be erased. */
export interface AuditRecordInput {
  /** Who acted; null for the system or an unauthenticated caller. */
  actorUserId: string | null;
  /**
   * Whose chain the row goes to: a user id, or `system`. Default: the actor, or `system`
   * when there is none.
   */
  chainOwner?: string;
  /** A registered action name (see `auditActions`). */
  action: string;
  /** What was acted on (an id, a provider name, a key id); never a secret or personal data. */
  target?: string | null;
  outcome?: AuditOutcome;
  /** Reduced to the action's allow-list before it is stored. */
  metadata?: Record<string, unknown>;
  ip?: string | null;
  userAgent?: string | null;
}

/** One row of a user's own trail, as `list` returns it. */
export interface AuditEntry {
  id: string;
  seq: number;
  at: number;
  action: string;
  target: string | null;
  outcome: AuditOutcome;
  metadata: Record<string, unknown>;
  /**
   * From the erasable personal row; null once erased, when none was recorded, or when
   * another user acted (their data is not shown).
   */
  ip: string | null;
  userAgent: string | null;
}

export interface AuditListOptions {
  actions?: string[];
  /** Inclusive lower and exclusive upper bound on `at` (epoch ms). */
  from?: number;
  to?: number;
  limit?: number;
  cursor?: string;
}

export interface AuditCheckpointOptions {
  /** Ed25519 private key (KeyObject or PEM) that signs checkpoints; without it none are written. */
  signingKey?: AuditCheckpointKey;
  /** More public keys accepted when verifying (keys used before a rotation). */
  publicKeys?: AuditCheckpointKey[];
  /** Where checkpoints go (outside the database): `fileCheckpointSink`, `loggerCheckpointSink`. */
  sinks?: AuditCheckpointSink[];
  /** Checkpoint a chain whenever its seq reaches a multiple of this (default 100; 0 = never). */
  every?: number;
  /** Also checkpoint every chain that moved, on this period in ms (default 0 = no timer). */
  intervalMs?: number;
}

/** The slice of a pino-shaped logger the service uses to report sink failures. */
export interface AuditServiceLogger {
  error(obj: object, msg?: string): void;
}

export interface AuditServiceOptions {
  store: Store;
  clock?: Clock;
  /** Host actions, added to byok's built-in `auditActions` (a built-in cannot be replaced). */
  actions?: AuditActionRegistry;
  checkpoints?: AuditCheckpointOptions;
  logger?: AuditServiceLogger;
}

const MAX_USER_AGENT = 512;

const recordSchema = z.object({
  actorUserId: z
    .string()
    .regex(/^[^\s:]{1,100}$/)
    .nullable(),
  chainOwner: z
    .string()
    .regex(/^[^\s:]{1,100}$/)
    .optional(),
  action: z.string().min(1).max(64),
  target: z.string().max(300).nullable().optional(),
  outcome: z.enum(['success', 'failure', 'denied']).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  ip: z.string().max(64).nullable().optional(),
  userAgent: z.string().nullable().optional(),
});

const listSchema = z.object({
  actions: z.array(z.string().min(1).max(64)).max(50).optional(),
  from: z.number().int().min(0).optional(),
  to: z.number().int().min(0).optional(),
  limit: z.number().int().min(1).max(100).default(20),
  cursor: z.string().max(512).optional(),
});

const cursorTuple = z.tuple([z.number().int().min(1)]);

/**
 * The audit trail: an append-only, hash-chained log with one chain per user and one
 * `system` chain, personal data kept apart so it can be erased, metadata reduced to a
 * per-action allow-list, and signed checkpoints written outside the database.
 *
 * @example
 * const store = await createStore({ database: { sqlite: 'data/byok.db' } });
 * const audit = new AuditService({ store, checkpoints: { signingKey: process.env.BYOK_AUDIT_CHECKPOINT_KEY!, sinks: [fileCheckpointSink('audit.jsonl')] } });
 * await store.transaction(async (tx) => {
 *   await tx.users.update(userId, { name: 'Ada', updatedAt: Date.now() });
 *   await audit.record({ actorUserId: userId, action: 'user.updated', metadata: { fields: ['name'] }, ...meta }, tx);
 * });
 * const { items, nextCursor } = await audit.list(userId, { limit: 20 });
 * const report = await audit.verify({ checkpoints: await readAuditCheckpointFile('audit.jsonl') });
 */
export class AuditService {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly actions: AuditActionRegistry;
  private readonly logger: AuditServiceLogger | undefined;
  private readonly signingKey: ReturnType<typeof toCheckpointPrivateKey> | undefined;
  private readonly publicKeys: ReturnType<typeof toCheckpointPublicKey>[];
  private readonly sinks: AuditCheckpointSink[];
  private readonly every: number;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  /** Chains appended to since their last checkpoint → the seq that makes one due (or 0), and a mark. */
  private readonly dirty = new Map<string, { dueSeq: number; mark: number }>();
  private marks = 0;
  private readonly checkpointed = new Map<string, number>();
  private flushing: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(options: AuditServiceOptions) {
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    const host = options.actions ?? {};
    for (const name of Object.keys(host)) {
      if (Object.hasOwn(auditActions, name)) {
        throw new ByokError('config_invalid', `Audit action "${name}" is built in and cannot be redefined`);
      }
    }
    this.actions = defineAuditActions({ ...auditActions, ...host });
    const cp = options.checkpoints ?? {};
    this.signingKey = cp.signingKey === undefined ? undefined : toCheckpointPrivateKey(cp.signingKey);
    this.publicKeys = [
      ...(this.signingKey ? [toCheckpointPublicKey(this.signingKey)] : []),
      ...(cp.publicKeys ?? []).map((key) => toCheckpointPublicKey(key)),
    ];
    this.sinks = cp.sinks ?? [];
    if (this.sinks.length > 0 && !this.signingKey) {
      throw new ByokError('config_invalid', 'Audit checkpoint sinks need a signing key (checkpoints.signingKey)');
    }
    const every = cp.every ?? 100;
    const intervalMs = cp.intervalMs ?? 0;
    if (!Number.isSafeInteger(every) || every < 0) throw new ByokError('config_invalid', 'checkpoints.every must be an integer ≥ 0');
    if (!Number.isFinite(intervalMs) || intervalMs < 0) throw new ByokError('config_invalid', 'checkpoints.intervalMs must be ≥ 0');
    this.every = every;
    if (this.writesCheckpoints && intervalMs > 0) {
      this.timer = setInterval(() => void this.flushCheckpoints(), intervalMs);
      this.timer.unref();
    }
  }

  /** The registered actions (built-in and the host's). */
  get registry(): AuditActionRegistry {
    return this.actions;
  }

  private get writesCheckpoints(): boolean {
    return this.signingKey !== undefined && this.sinks.length > 0;
  }

  /**
   * Appends one row to the owner's chain. Given `tx` (a Store from `store.transaction`),
   * the row and the chain head move inside that transaction, so the trail records an
   * action exactly when the action commits. Metadata is reduced to the action's
   * allow-list; ip and user agent go to the erasable personal row, and the chain keeps
   * only their HMAC under the salt of the person they belong to (the actor, or the
   * chain owner when there is no actor).
   *
   * @example
   * await byok.store.transaction(async (tx) => {
   *   await byok.audit.record({ actorUserId: userId, action: 'key.removed', target: 'gemini', metadata: { provider: 'gemini' }, ...meta }, tx);
   * });
   */
  async record(input: AuditRecordInput, tx?: Store): Promise<AuditRow> {
    const parsed = recordSchema.safeParse(input);
    if (!parsed.success) {
      throw new ByokError('validation_failed', 'Invalid audit record', { details: { issues: parsed.error.issues.map((i) => i.path.join('.')) } });
    }
    const value = parsed.data;
    const metadata = allowListAuditMetadata(this.actions, value.action, value.metadata);
    const metadataText = canonicalJson(metadata);
    const owner = value.chainOwner ?? value.actorUserId ?? SYSTEM_CHAIN;
    const chain = auditChainName(owner);
    const ip = value.ip ?? null;
    const userAgent = value.userAgent == null ? null : value.userAgent.slice(0, MAX_USER_AGENT);
    const store = tx ?? this.store;
    const hasPersonal = ip !== null || userAgent !== null;
    const personalHmac = hasPersonal
      ? auditPersonalHmac(await store.audit.salt(value.actorUserId ?? owner), { ip, userAgent })
      : null;
    const at = this.clock.now();
    const id = uuidv7(at);
    const actorUserId = value.actorUserId;
    const target = value.target ?? null;
    const outcome = value.outcome ?? 'success';
    const row = await store.audit.append({
      chain,
      genesisHash: auditGenesisHash(chain),
      build: (prev) => {
        const seq = prev.seq + 1;
        const fields = { id, chain, seq, at, actorUserId, action: value.action, target, outcome, metadata, personalHmac };
        return { ...fields, metadata: metadataText, prevHash: prev.hash, hash: auditRowHash(prev.hash, fields) };
      },
      ...(hasPersonal ? { personal: { ip, userAgent } } : {}),
    });
    await this.noteAppend(row, tx !== undefined);
    return row;
  }

  /**
   * A user's own trail, newest first, with keyset pagination. Only the user's chain is
   * ever read; items carry no hashes.
   *
   * @example
   * const page1 = await byok.audit.list(userId, { actions: ['auth.login.succeeded'], limit: 10 });
   * const page2 = page1.nextCursor ? await byok.audit.list(userId, { cursor: page1.nextCursor }) : undefined;
   */
  async list(userId: string, options: AuditListOptions = {}): Promise<Page<AuditEntry>> {
    const parsed = listSchema.safeParse(options);
    if (!parsed.success) throw new ByokError('validation_failed', 'Invalid audit list query');
    const q = parsed.data;
    const beforeSeq = q.cursor === undefined ? undefined : decodeCursor('audit', q.cursor, cursorTuple)[0];
    // Always `user:<id>`: even a user id of "system" can never read the system chain.
    const rows = await this.store.audit.list({
      chain: `user:${userId}`,
      ...(q.actions ? { actions: q.actions } : {}),
      ...(q.from !== undefined ? { from: q.from } : {}),
      ...(q.to !== undefined ? { to: q.to } : {}),
      ...(beforeSeq !== undefined ? { beforeSeq } : {}),
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    // ip and user agent are shown for the user's own actions (and actor-less ones on
    // their chain, e.g. a failed attempt at their account), never another person's.
    const visible = (row: AuditRow) => row.personalHmac !== null && (row.actorUserId === null || row.actorUserId === userId);
    const withPersonal = page.filter(visible).map((row) => row.id);
    const personal = new Map((withPersonal.length ? await this.store.audit.personal(withPersonal) : []).map((p) => [p.auditId, p]));
    const items = page.map((row): AuditEntry => {
      const side = personal.get(row.id);
      return {
        id: row.id,
        seq: row.seq,
        at: row.at,
        action: row.action,
        target: row.target,
        outcome: row.outcome,
        metadata: parseMetadata(row.metadata),
        ip: side?.ip ?? null,
        userAgent: side?.userAgent ?? null,
      };
    });
    const lastItem = page[page.length - 1];
    return { items, nextCursor: rows.length > q.limit && lastItem ? encodeCursor('audit', [lastItem.seq]) : null };
  }

  /**
   * Verifies every chain, or only `chains` (see `verifyAuditTrail`); with `checkpoints`,
   * also that every checkpointed row and chain is still there unchanged. Signatures are checked with
   * the signing key's public half and `checkpoints.publicKeys`.
   *
   * @example
   * const report = await byok.audit.verify({ checkpoints: await readAuditCheckpointFile('audit-checkpoints.jsonl') });
   * if (!report.ok) console.error(report.firstBad); // { chain, seq, id, reason, detail }
   */
  async verify(
    options: { checkpoints?: readonly SignedAuditCheckpoint[]; publicKeys?: AuditCheckpointKey[]; chains?: readonly string[] } = {},
  ): Promise<AuditVerifyReport> {
    return verifyAuditTrail(this.store.audit, {
      ...(options.checkpoints ? { checkpoints: options.checkpoints } : {}),
      ...(options.chains ? { chains: options.chains } : {}),
      publicKeys: [...this.publicKeys, ...(options.publicKeys ?? [])],
    });
  }

  /**
   * Erases a user's personal audit data (their personal rows and their salt); the chains
   * still verify. Record `user.deleted` before calling it, in the same transaction.
   *
   * @example
   * await byok.store.transaction(async (tx) => {
   *   await byok.audit.record({ actorUserId: userId, action: 'user.deleted', metadata: { by: 'self' } }, tx);
   *   await byok.audit.eraseUser(userId, tx);
   *   await tx.users.delete(userId);
   * });
   */
  async eraseUser(userId: string, tx?: Store): Promise<void> {
    await (tx ?? this.store).audit.eraseUser(userId);
  }

  /**
   * Writes a checkpoint now for every chain appended to since its last checkpoint (what
   * the timer does). Resolves once the sinks have it; sink failures are logged.
   *
   * @example
   * await byok.audit.flushCheckpoints(); // e.g. before a deploy restarts the process
   */
  async flushCheckpoints(): Promise<void> {
    await this.flush(false);
  }

  /**
   * Writes a checkpoint of every chain's current head (e.g. before a backup or an audit);
   * returns how many were written.
   *
   * @example
   * const written = await byok.audit.checkpointAll();
   */
  async checkpointAll(): Promise<number> {
    if (!this.writesCheckpoints) throw new ByokError('config_invalid', 'Audit checkpoints need a signing key and a sink');
    let written = 0;
    for (const head of await this.store.audit.heads()) {
      this.checkpointed.delete(head.chain);
      if ((await this.checkpointHead(head.chain, 0)) === 'written') written++;
    }
    return written;
  }

  /**
   * Stops the timer, writes the checkpoints still due and closes the sinks.
   *
   * @example
   * process.on('SIGTERM', () => void byok.audit.close());
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.writesCheckpoints) await this.flushCheckpoints();
    for (const sink of this.sinks) await sink.close?.();
  }

  private async noteAppend(row: AuditRow, inTransaction: boolean): Promise<void> {
    if (!this.writesCheckpoints) return;
    const due = this.every > 0 && row.seq % this.every === 0;
    if (!inTransaction && due) {
      // Committed already: checkpoint this very row.
      this.dirty.delete(row.chain);
      await this.emit({ chain: row.chain, seq: row.seq, id: row.id, hash: row.hash, at: this.clock.now() });
      return;
    }
    // Not due, or inside the caller's transaction (not committed yet): mark the chain;
    // a flush checkpoints its committed head once that has reached the due seq.
    const dueSeq = Math.max(this.dirty.get(row.chain)?.dueSeq ?? 0, due ? row.seq : 0);
    this.dirty.set(row.chain, { dueSeq, mark: ++this.marks });
    if (due) this.scheduleDueFlush(0);
  }

  /** Retries due checkpoints while the transactions that made them due are still open. */
  private scheduleDueFlush(attempt: number): void {
    const delay = attempt === 0 ? 0 : 25 * 4 ** attempt; // 0, 100 ms, 400 ms, 1.6 s, 6.4 s
    const timer = setTimeout(() => {
      void this.flush(true).then((pending) => {
        if (pending && attempt < 4 && !this.closed) this.scheduleDueFlush(attempt + 1);
      });
    }, delay);
    timer.unref();
  }

  private flush(dueOnly: boolean): Promise<boolean> {
    const run = this.flushing.then(() => this.flushDirty(dueOnly));
    this.flushing = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Returns whether a due checkpoint is still waiting for its row to commit. */
  private async flushDirty(dueOnly: boolean): Promise<boolean> {
    let pending = false;
    for (const [chain, { dueSeq, mark }] of [...this.dirty]) {
      if (dueOnly && dueSeq === 0) continue;
      try {
        const outcome = await this.checkpointHead(chain, dueSeq);
        if (outcome === 'pending') {
          pending = true; // the caller's transaction has not committed yet (or rolled back)
          continue;
        }
        if (this.dirty.get(chain)?.mark === mark) this.dirty.delete(chain);
      } catch (err) {
        this.logger?.error({ err: sanitize(err), chain }, 'audit checkpoint failed');
      }
    }
    return pending;
  }

  /** Checkpoints the chain's committed head, once it has reached `atLeast`. */
  private async checkpointHead(chain: string, atLeast: number): Promise<'written' | 'pending' | 'unchanged'> {
    const head = await this.store.audit.head(chain);
    if (!head || head.lastSeq < atLeast || head.lastSeq === 0) return 'pending';
    if ((this.checkpointed.get(chain) ?? 0) >= head.lastSeq) return 'unchanged';
    const [row] = await this.store.audit.readChain(chain, head.lastSeq - 1, 1);
    if (!row || row.seq !== head.lastSeq || row.hash !== head.lastHash) {
      this.logger?.error({ chain, seq: head.lastSeq }, 'audit head does not match its row: not checkpointed (run byok audit verify)');
      return 'unchanged';
    }
    await this.emit({ chain, seq: row.seq, id: row.id, hash: row.hash, at: this.clock.now() });
    return 'written';
  }

  private async emit(checkpoint: AuditCheckpoint): Promise<void> {
    if (!this.signingKey) return;
    const signed = signAuditCheckpoint(checkpoint, this.signingKey);
    const results = await Promise.allSettled(this.sinks.map(async (sink) => sink.write(signed)));
    for (const result of results) {
      if (result.status === 'rejected') {
        this.logger?.error({ err: sanitize(result.reason), chain: checkpoint.chain, seq: checkpoint.seq }, 'audit checkpoint sink failed');
      }
    }
    const previous = this.checkpointed.get(checkpoint.chain) ?? 0;
    if (checkpoint.seq > previous) this.checkpointed.set(checkpoint.chain, checkpoint.seq);
  }
}

function parseMetadata(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

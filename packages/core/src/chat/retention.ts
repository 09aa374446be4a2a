import { z } from 'zod';
import { ByokError } from '../errors';
import type { InactiveSession } from '../store/chat-maintenance-repository';
import type { Store } from '../store/store';
import type { UsersAuditRecorder } from '../users/users-service';
import { systemClock, type Clock } from '../util/clock';

/** The shortest maximum age accepted: one minute (a purge never races a conversation in progress). */
export const MIN_RETENTION_MS = 60_000;

/** The host option `chat.retention`: how long a session is kept after its last activity. */
export const chatRetentionOptionsSchema = z
  .object({
    maxAgeMs: z.number().int().min(MIN_RETENTION_MS).max(Number.MAX_SAFE_INTEGER),
  })
  .strict();

/** The host option `chat.retention`. */
export interface ChatRetentionOptions {
  /**
   * Sessions whose last activity (a message appended or finished, a rename) is older than
   * this are deleted, with every message of theirs, by `byok chat purge` and
   * `byok.chat.purgeExpired()`. At least one minute.
   */
  maxAgeMs: number;
}

/** What one purge run is told. */
export interface PurgeExpiredOptions {
  /** The time the maximum age is measured back from (epoch ms). Default: the clock's now. */
  now?: number;
  /** Sessions deleted per transaction (and per audit row), 1–10,000. Default 100. */
  batchSize?: number;
  /** Stops the purge between batches; what was deleted stays deleted, and a new run resumes. */
  signal?: AbortSignal;
  /** Called after every batch. */
  onProgress?: (progress: ChatPurgeProgress) => void;
}

/** Where a purge run is, after each batch. */
export interface ChatPurgeProgress {
  /** Sessions deleted so far. */
  sessions: number;
  /** Messages deleted with them so far. */
  messages: number;
  /** Sessions that were past the maximum age when the run started. */
  total: number;
  batches: number;
  ratePerSecond: number;
}

/** The outcome of a purge run. */
export interface ChatPurgeReport {
  maxAgeMs: number;
  /** Sessions whose last activity is before this (epoch ms) were deleted. */
  cutoff: number;
  sessions: number;
  messages: number;
  /** Sessions past the maximum age when the run started. */
  total: number;
  /** Transactions that deleted something (each one system audit row). */
  batches: number;
  /** Listed as expired, then kept: activity arrived before their batch ran. */
  kept: number;
  /** False when `signal` stopped the run before every expired session was gone. */
  complete: boolean;
}

const purgeOptionsSchema = z.object({
  now: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  batchSize: z.number().int().min(1).max(10_000).optional(),
});

/** What {@link ChatRetention} is built from. */
export interface ChatRetentionDeps {
  store: Store;
  audit: UsersAuditRecorder;
  clock?: Clock;
  /** The host's `chat.retention`; without it, purging is refused as not configured. */
  options?: ChatRetentionOptions;
}

/**
 * Chat retention: deletes sessions whose last activity is older than the host's maximum
 * age, with their messages, in batches. Each batch is one transaction together with one
 * audit row on the system chain holding only counts. The conditions are checked again on
 * the locked rows, so a session that gets a message while the purge runs is kept, and a
 * session with a reply still streaming under a live lease is never touched. A run that is
 * interrupted (signal, crash) resumes by simply running again: deleted sessions are gone
 * from what the next run lists.
 *
 * @example
 * const retention = new ChatRetention({ store: byok.store, audit: byok.audit, options: { maxAgeMs: 90 * 86_400_000 } });
 * const report = await retention.purgeExpired({ batchSize: 500 });
 * console.log(`${report.sessions} sessions and ${report.messages} messages deleted`);
 */
export class ChatRetention {
  readonly #store: Store;
  readonly #audit: UsersAuditRecorder;
  readonly #clock: Clock;
  readonly #options: ChatRetentionOptions | undefined;

  constructor(deps: ChatRetentionDeps) {
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#clock = deps.clock ?? systemClock;
    if (deps.options !== undefined) {
      const parsed = chatRetentionOptionsSchema.safeParse(deps.options);
      if (!parsed.success) {
        throw new ByokError('config_invalid', `chat.retention.maxAgeMs must be an integer number of milliseconds of at least ${MIN_RETENTION_MS} (one minute)`);
      }
      this.#options = parsed.data;
    }
  }

  /** The configured maximum age, or null when the host set no retention. */
  get maxAgeMs(): number | null {
    return this.#options?.maxAgeMs ?? null;
  }

  /**
   * Deletes every session whose last activity is older than `chat.retention.maxAgeMs`
   * (measured back from `now`), with its messages, `batchSize` sessions per transaction,
   * oldest first. `config_invalid` when no retention is configured.
   *
   * @example
   * // e.g. nightly, on one instance
   * setInterval(() => void byok.chat.purgeExpired({ batchSize: 500 }), 86_400_000).unref();
   */
  async purgeExpired(options: PurgeExpiredOptions = {}): Promise<ChatPurgeReport> {
    if (!this.#options) throw new ByokError('config_invalid', 'Chat retention is not configured (set chat.retention.maxAgeMs)');
    const parsed = purgeOptionsSchema.safeParse({ now: options.now, batchSize: options.batchSize });
    if (!parsed.success) throw new ByokError('validation_failed', 'purgeExpired: now must be epoch milliseconds and batchSize an integer from 1 to 10000');
    const maxAgeMs = this.#options.maxAgeMs;
    const cutoff = (parsed.data.now ?? this.#clock.now()) - maxAgeMs;
    const batchSize = parsed.data.batchSize ?? 100;
    const started = Date.now();
    const total = await this.#store.chatMaintenance.countInactiveSessions({ before: cutoff, now: this.#clock.now() });
    const report: ChatPurgeReport = { maxAgeMs, cutoff, sessions: 0, messages: 0, total, batches: 0, kept: 0, complete: false };
    let after: InactiveSession | undefined;
    for (;;) {
      if (options.signal?.aborted) return report;
      // A live lease is judged at the moment of each batch, not at the `now` given.
      const now = this.#clock.now();
      const listed = await this.#store.chatMaintenance.inactiveSessions({ before: cutoff, now, limit: batchSize, ...(after ? { after } : {}) });
      if (listed.length === 0) break;
      after = listed[listed.length - 1];
      const deleted = await this.#store.transaction(async (tx) => {
        const result = await tx.chatMaintenance.deleteInactiveSessions({ before: cutoff, now, sessionIds: listed.map((s) => s.id) });
        if (result.sessions.length > 0) {
          await this.#audit.record(
            {
              actorUserId: null,
              action: 'chat.retention.purged',
              target: null,
              outcome: 'success',
              metadata: { sessions: result.sessions.length, messages: result.messages, cutoff, maxAgeMs },
            },
            tx,
          );
        }
        return result;
      });
      report.sessions += deleted.sessions.length;
      report.messages += deleted.messages;
      report.kept += listed.length - deleted.sessions.length;
      if (deleted.sessions.length > 0) report.batches++;
      const seconds = Math.max((Date.now() - started) / 1000, 0.001);
      options.onProgress?.({ sessions: report.sessions, messages: report.messages, total, batches: report.batches, ratePerSecond: report.sessions / seconds });
    }
    report.complete = true;
    return report;
  }
}

import type { Byok } from '../byok';
import { ChatRetention, type ChatPurgeProgress, type ChatPurgeReport } from '../chat/retention';
import { isByokError } from '../errors';
import type { Clock } from '../util/clock';
import type { CommandOutput } from './audit-command';
import { parseCliArgs, type CliOptions } from './cli-args';

export interface ChatCommandContext {
  byok: Pick<Byok, 'store' | 'audit'>;
  /** The config's `chat.retention` (checked here: the config file is not typed at run time). */
  retention: unknown;
  clock?: Clock;
  stdout: CommandOutput;
  stderr: CommandOutput & { isTTY?: boolean };
  /** Stops the purge between batches. Default: the process's SIGINT (Ctrl-C). */
  signal?: AbortSignal;
}

/** The flags `byok chat purge` accepts. */
export const CHAT_PURGE_OPTIONS = { batch: { type: 'string' }, json: { type: 'boolean' } } as const satisfies CliOptions;

const USAGE = `Usage: byok chat purge [--batch N] [--json]

Deletes every chat session whose last activity is older than chat.retention.maxAgeMs
(byok.config), with its messages: N sessions per transaction (default 100, at most 10000),
each batch recorded as one system audit row with counts. Sessions with a reply still
streaming are kept. Interrupted (Ctrl-C), it stops after the current batch; run it again
to resume.
  --json   print the summary as JSON
Exit code: 0 when done, 130 when interrupted, 2 on a usage or configuration error.
`;

/** One line of progress: a bar, sessions deleted of those expired, messages, rate. */
export function purgeProgressLine(p: ChatPurgeProgress, width = 30): string {
  const ratio = p.total === 0 ? 1 : Math.min(1, p.sessions / p.total);
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.sessions}/${p.total} sessions, ${p.messages} messages  ${p.ratePerSecond.toFixed(1)}/s`;
}

/**
 * `byok chat purge [--batch N] [--json]`: the chat retention purge (see `ChatRetention`),
 * with a progress bar on a TTY. Returns the exit code.
 */
export async function runChatPurge(args: string[], ctx: ChatCommandContext): Promise<number> {
  const parsed = parseCliArgs(args, CHAT_PURGE_OPTIONS);
  const problem = 'error' in parsed ? parsed.error : parsed.positionals.length > 0 ? `Unknown argument: ${parsed.positionals[0]}` : undefined;
  if (problem !== undefined || 'error' in parsed) {
    ctx.stderr.write(`byok chat purge: ${problem}\n\n${USAGE}`);
    return 2;
  }
  const batch = parsed.values.batch === undefined ? 100 : Number(parsed.values.batch);
  if (!/^[1-9][0-9]*$/.test(parsed.values.batch ?? '100') || batch > 10_000) {
    ctx.stderr.write(`byok chat purge: --batch must be an integer from 1 to 10000\n\n${USAGE}`);
    return 2;
  }
  if (ctx.retention === undefined || ctx.retention === null) {
    ctx.stderr.write('byok chat purge: no retention is configured: set chat.retention.maxAgeMs in byok.config\n');
    return 2;
  }
  let retention: ChatRetention;
  try {
    retention = new ChatRetention({ store: ctx.byok.store, audit: ctx.byok.audit, options: ctx.retention as never, ...(ctx.clock ? { clock: ctx.clock } : {}) });
  } catch (error) {
    if (!isByokError(error)) throw error;
    ctx.stderr.write(`byok chat purge: ${error.message}\n`);
    return 2;
  }

  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  if (ctx.signal) ctx.signal.addEventListener('abort', onSigint, { once: true });
  else process.once('SIGINT', onSigint);
  const tty = ctx.stderr.isTTY === true;
  let report: ChatPurgeReport;
  try {
    report = await retention.purgeExpired({
      batchSize: batch,
      signal: interrupt.signal,
      ...(tty ? { onProgress: (p: ChatPurgeProgress) => ctx.stderr.write(`\r${purgeProgressLine(p)}`) } : {}),
    });
  } finally {
    if (ctx.signal) ctx.signal.removeEventListener('abort', onSigint);
    else process.removeListener('SIGINT', onSigint);
  }
  if (tty && report.batches > 0) ctx.stderr.write('\n');

  if (parsed.values.json) {
    ctx.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    const days = +(report.maxAgeMs / 86_400_000).toFixed(2);
    ctx.stdout.write(
      `purged ${report.sessions} session(s) and ${report.messages} message(s) inactive since before ${new Date(report.cutoff).toISOString()} (max age ${days} day(s)), in ${report.batches} batch(es)\n`,
    );
    if (report.kept > 0) ctx.stdout.write(`${report.kept} session(s) kept: they had activity while the purge ran\n`);
    if (!report.complete) ctx.stdout.write('interrupted: run `byok chat purge` again to delete the rest\n');
  }
  return report.complete ? 0 : 130;
}

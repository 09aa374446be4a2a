import type { Byok } from '../byok';
import { ByokError } from '../errors';
import { rewrapAll, sealedKekCounts, type RewrapProgress } from '../vault/rewrap';
import type { CommandOutput } from './audit-command';
import { parseCliArgs, type CliOptions } from './cli-args';

export interface KmsCommandContext {
  byok: Pick<Byok, 'store' | 'sealer' | 'audit'>;
  stdout: CommandOutput & { isTTY?: boolean };
  stderr: CommandOutput & { isTTY?: boolean };
}

/** The flags `byok kms` accepts. */
export const KMS_OPTIONS = { batch: { type: 'string' } } as const satisfies CliOptions;

const USAGE = 'usage: byok kms status | rewrap [--batch N] | min-version N\n';

/** One line of progress: a bar, counts and rate. */
export function progressLine(p: RewrapProgress, width = 30): string {
  const ratio = p.total === 0 ? 1 : Math.min(1, p.done / p.total);
  const filled = Math.round(ratio * width);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  return `[${bar}] ${p.done}/${p.total} ${p.table}  rewrapped ${p.rewrapped}, superseded ${p.superseded}, failed ${p.failed}  ${p.ratePerSecond.toFixed(1)}/s`;
}

/**
 * `byok kms status | rewrap [--batch N] | min-version N`.
 * - status: how many sealed records use each KEK (driver:key:version), and the primary;
 * - rewrap: re-wraps every data key under the primary KEK (resumable; concurrent writes win);
 * - min-version N: refuses while records remain below version N, otherwise applies it to
 *   the drivers that support a minimum version (set the same value in your config).
 */
export async function runKmsCommand(args: string[], ctx: KmsCommandContext): Promise<number> {
  const parsed = parseCliArgs(args, KMS_OPTIONS);
  const problem = 'error' in parsed ? parsed.error : strayArgument(parsed.positionals, parsed.values.batch);
  if (problem !== undefined || 'error' in parsed) {
    ctx.stderr.write(`byok kms: ${problem}\n${USAGE}`);
    return 2;
  }
  const [sub, value] = parsed.positionals;
  const flags = parsed.values;
  const { store, sealer } = ctx.byok;
  const primary = await sealer.primaryKey();
  const primaryLabel = `${primary.driverId}:${primary.keyId}:${primary.version}`;

  if (sub === 'status' || sub === undefined) {
    const counts = await sealedKekCounts(store, sealer);
    ctx.stdout.write(`primary KEK: ${primaryLabel}\n`);
    if (counts.length === 0) ctx.stdout.write('no sealed records\n');
    for (const c of counts) ctx.stdout.write(`${c.table.padEnd(20)} ${c.kek.padEnd(48)} ${String(c.count).padStart(8)}${c.kek === primaryLabel ? '  (primary)' : ''}\n`);
    const behind = counts.filter((c) => c.kek !== primaryLabel).reduce((n, c) => n + c.count, 0);
    ctx.stdout.write(behind ? `${behind} record(s) not under the primary KEK: run \`byok kms rewrap\`\n` : 'every record is under the primary KEK\n');
    return 0;
  }

  if (sub === 'rewrap') {
    const batch = typeof flags.batch === 'string' ? Number(flags.batch) : 100;
    if (!Number.isInteger(batch) || batch < 1 || batch > 10_000) throw new ByokError('bad_request', '--batch must be an integer from 1 to 10000');
    const tty = ctx.stderr.isTTY === true;
    const report = await rewrapAll({
      store,
      sealer,
      audit: ctx.byok.audit,
      batchSize: batch,
      onProgress: (p) => ctx.stderr.write(tty ? `\r${progressLine(p)}` : `${progressLine(p)}\n`),
    });
    if (tty) ctx.stderr.write('\n');
    ctx.stdout.write(`rewrap to ${report.primary}: ${report.rewrapped} rewrapped, ${report.superseded} superseded by concurrent writes, ${report.failed} failed (of ${report.total})\n`);
    for (const f of report.failures.slice(0, 20)) ctx.stdout.write(`  failed: ${f.table} ${f.id} (${f.code})\n`);
    return report.failed ? 1 : 0;
  }

  if (sub === 'min-version') {
    const version = Number(value);
    if (!Number.isInteger(version) || version < 1) throw new ByokError('bad_request', 'usage: byok kms min-version N (a positive integer)');
    const below = (await sealedKekCounts(store, sealer)).filter((c) => {
      const [driver, , v] = splitLabel(c.kek);
      return driver === primary.driverId && Number(v) < version;
    });
    const remaining = below.reduce((n, c) => n + c.count, 0);
    if (remaining > 0) {
      ctx.stderr.write(`refused: ${remaining} record(s) still use a version below ${version}; run \`byok kms rewrap\` first\n`);
      return 1;
    }
    let applied = 0;
    for (const driver of sealer.drivers) {
      const settable = driver as { setMinimumVersion?: (v: number) => void };
      if (typeof settable.setMinimumVersion === 'function') {
        settable.setMinimumVersion(version);
        applied++;
      }
    }
    if (!applied) {
      ctx.stderr.write(`the ${primary.driverId} driver has no minimum version (AWS KMS rotates inside the KMS)\n`);
      return 1;
    }
    ctx.stdout.write(`no record uses a version below ${version}: set minimumVersion: ${version} in your KMS config (e.g. localKms({ minimumVersion: ${version} }))\n`);
    return 0;
  }

  ctx.stderr.write(USAGE);
  return 2;
}

/** A positional or flag the subcommand does not take. */
function strayArgument(positionals: string[], batch: string | undefined): string | undefined {
  const [sub] = positionals;
  if (positionals.length > (sub === 'min-version' ? 2 : 1)) return `Unknown argument: ${positionals.at(-1)}`;
  if (batch !== undefined && sub !== 'rewrap') return '--batch applies to rewrap only';
  return undefined;
}

function splitLabel(label: string): [string, string, string] {
  const first = label.indexOf(':');
  const last = label.lastIndexOf(':');
  return [label.slice(0, first), label.slice(first + 1, last), label.slice(last + 1)];
}

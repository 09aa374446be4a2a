import { readFile } from 'node:fs/promises';
import type { AuditService } from '../audit/audit-service';
import { readAuditCheckpointFile, type SignedAuditCheckpoint } from '../audit/audit-checkpoint';
import type { AuditVerifyProblem, AuditVerifyReport } from '../audit/audit-verifier';
import type { AuditHead } from '../store/store';
import { isByokError } from '../errors';
import type { Store } from '../store/store';
import { sanitizeString } from '../util/sanitize';
import { parseCliArgs, type CliOptions } from './cli-args';

/** Where the command writes: anything with `write(text)` (process.stdout, a test buffer). */
export interface CommandOutput {
  write(text: string): unknown;
}

export interface AuditCommandContext {
  store: Store;
  audit: AuditService;
  stdout: CommandOutput;
  stderr: CommandOutput;
}

const USAGE = `Usage: byok audit verify [--checkpoints FILE]... [--public-key FILE]... [--chain NAME]... [--json]

Verifies every audit chain: sequence, hashes, links, heads and surviving personal rows.
  --checkpoints FILE  signed checkpoints (JSON lines from fileCheckpointSink or a log file
                      written through loggerCheckpointSink); repeatable
  --public-key FILE   Ed25519 public key (PEM) that signed them, besides the configured one; repeatable
  --chain NAME        verify only this chain (system, user:<id>); repeatable
  --json              print the report as JSON, with how much the checkpoints cover
Exit code: 0 when intact, 1 when a chain is broken, 2 on a usage or configuration error.

Without --checkpoints, an intact result shows only that each chain is internally
consistent: the chain is not keyed, so whoever can write to the database can rewrite
rows and recompute every hash and head. Signed checkpoints kept outside the database
are what pin the trail.
`;

/**
 * How much of the trail the checkpoints pin, as `--json` reports it next to the verifier's
 * report. Rows not pinned are only internally consistent.
 */
export interface AuditCheckpointCoverage {
  checkpointsGiven: boolean;
  /** Chains verified that no checkpoint names (all of them without checkpoints). */
  chainsWithoutCheckpoint: number;
  /** Rows after their chain's last checkpoint, in chains that have one. */
  rowsAfterLastCheckpoint: number;
  chainsWithRowsAfterLastCheckpoint: number;
}

/** What a run without checkpoints does not prove, said plainly (printed under an OK result). */
export const WITHOUT_CHECKPOINTS_NOTICE = [
  'NOT PROVEN without checkpoints: this shows only that each chain is internally consistent,',
  'not that it is the trail byok wrote. The chain is not keyed: whoever can write to the',
  'database can edit, insert or delete rows and recompute every later hash and the head, or',
  'delete the newest rows or a whole chain together with its head, and this check still passes.',
  'Verify with --checkpoints FILE: checkpoints signed by byok and written outside the database',
  '(createByok audit.checkpoints: signingKey and a sink such as fileCheckpointSink).',
];

/**
 * `byok audit verify`: verifies the audit trail and returns the process exit code
 * (0 intact, 1 tampered, 2 usage/configuration error). Prints a summary, or names the
 * first bad row (chain, seq, id, reason). Under an intact result it says what is not
 * proven: everything, without checkpoints, or the chains and rows no checkpoint pins.
 *
 * @example
 * process.exitCode = await runAuditVerify(['--checkpoints', 'audit.jsonl'], { store, audit, stdout: process.stdout, stderr: process.stderr });
 */
export async function runAuditVerify(args: string[], ctx: AuditCommandContext): Promise<number> {
  const parsed = parseArgs(args);
  if ('error' in parsed) {
    ctx.stderr.write(`${parsed.error}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.help) {
    ctx.stdout.write(USAGE);
    return 0;
  }
  let report: AuditVerifyReport;
  const checkpoints: SignedAuditCheckpoint[] = [];
  try {
    for (const file of parsed.checkpointFiles) checkpoints.push(...(await readAuditCheckpointFile(file)));
    const publicKeys: string[] = [];
    for (const file of parsed.publicKeyFiles) publicKeys.push(await readFile(file, 'utf8'));
    if (parsed.checkpointFiles.length > 0 && checkpoints.length === 0) {
      ctx.stderr.write(`byok audit verify: no checkpoints found in ${parsed.checkpointFiles.join(', ')}\n`);
      return 2;
    }
    report = await ctx.audit.verify({ checkpoints, publicKeys, ...(parsed.chains.length > 0 ? { chains: parsed.chains } : {}) });
  } catch (err) {
    const message = isByokError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? sanitizeString(err.message) : 'unexpected error';
    ctx.stderr.write(`byok audit verify: ${message}\n`);
    return 2;
  }

  let coverage: AuditCheckpointCoverage;
  try {
    coverage = await checkpointCoverage(ctx.store, parsed.chains, checkpoints);
  } catch (err) {
    ctx.stderr.write(`byok audit verify: ${isByokError(err) ? `${err.code}: ${err.message}` : 'could not read the chain heads'}\n`);
    return 2;
  }

  if (parsed.json) {
    ctx.stdout.write(`${JSON.stringify({ ...report, coverage }, null, 2)}\n`);
  } else if (report.ok) {
    ctx.stdout.write(
      `audit verify: OK — ${report.chains} chain${report.chains === 1 ? '' : 's'}, ${report.rows} row${report.rows === 1 ? '' : 's'}` +
        (parsed.checkpointFiles.length > 0 ? `, ${report.checkpoints} checkpoint${report.checkpoints === 1 ? '' : 's'} matched` : ', no checkpoints given') +
        '\n',
    );
    for (const line of coverageNotice(coverage, report.chains)) ctx.stdout.write(`  ${line}\n`);
  } else {
    const first = report.firstBad as AuditVerifyProblem;
    ctx.stdout.write(`audit verify: FAILED — first bad row: ${describe(first)}\n`);
    for (const problem of report.problems.slice(1)) ctx.stdout.write(`  also: ${describe(problem)}\n`);
    ctx.stdout.write(`checked ${report.chains} chains, ${report.rows} rows, ${report.checkpoints} checkpoints\n`);
  }
  return report.ok ? 0 : 1;
}

/** What the checkpoints leave unpinned among the chains verified (every chain with a head, or `--chain`). */
async function checkpointCoverage(store: Store, only: string[], checkpoints: SignedAuditCheckpoint[]): Promise<AuditCheckpointCoverage> {
  const heads: AuditHead[] =
    only.length > 0 ? (await Promise.all([...new Set(only)].map((chain) => store.audit.head(chain)))).filter((h): h is AuditHead => h !== undefined) : await store.audit.heads();
  const pinned = new Map<string, number>();
  for (const checkpoint of checkpoints) pinned.set(checkpoint.chain, Math.max(pinned.get(checkpoint.chain) ?? 0, checkpoint.seq));
  const coverage: AuditCheckpointCoverage = {
    checkpointsGiven: checkpoints.length > 0,
    chainsWithoutCheckpoint: 0,
    rowsAfterLastCheckpoint: 0,
    chainsWithRowsAfterLastCheckpoint: 0,
  };
  for (const head of heads) {
    const seq = pinned.get(head.chain);
    if (seq === undefined) coverage.chainsWithoutCheckpoint++;
    else if (head.lastSeq > seq) {
      coverage.chainsWithRowsAfterLastCheckpoint++;
      coverage.rowsAfterLastCheckpoint += head.lastSeq - seq;
    }
  }
  return coverage;
}

function coverageNotice(coverage: AuditCheckpointCoverage, chains: number): string[] {
  if (!coverage.checkpointsGiven) return WITHOUT_CHECKPOINTS_NOTICE;
  const gaps: string[] = [];
  if (coverage.chainsWithoutCheckpoint > 0) {
    gaps.push(`${coverage.chainsWithoutCheckpoint} of ${chains} chain${chains === 1 ? '' : 's'} ${coverage.chainsWithoutCheckpoint === 1 ? 'has' : 'have'} no checkpoint`);
  }
  if (coverage.rowsAfterLastCheckpoint > 0) {
    const rows = coverage.rowsAfterLastCheckpoint;
    const inChains = coverage.chainsWithRowsAfterLastCheckpoint;
    gaps.push(`${rows} row${rows === 1 ? '' : 's'} in ${inChains} chain${inChains === 1 ? '' : 's'} came after the last checkpoint`);
  }
  if (gaps.length === 0) return [];
  return [
    `NOT PROVEN for part of the trail: ${gaps.join(', and ')}.`,
    'Those rows are only internally consistent: whoever can write to the database could have',
    'rewritten them and recomputed their hashes. Checkpoint more often (audit.checkpoints.every,',
    'intervalMs) or run audit.checkpointAll() before verifying.',
  ];
}

function describe(problem: AuditVerifyProblem): string {
  return `chain ${problem.chain}, seq ${problem.seq}, id ${problem.id ?? '(unknown)'}: ${problem.reason} (${problem.detail})`;
}

/** The flags `byok audit verify` accepts. */
export const AUDIT_VERIFY_OPTIONS = {
  checkpoints: { type: 'string', multiple: true },
  'public-key': { type: 'string', multiple: true },
  chain: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies CliOptions;

interface ParsedArgs {
  checkpointFiles: string[];
  publicKeyFiles: string[];
  chains: string[];
  json: boolean;
  help: boolean;
}

function parseArgs(args: string[]): ParsedArgs | { error: string } {
  const parsed = parseCliArgs(args, AUDIT_VERIFY_OPTIONS);
  if ('error' in parsed) return parsed;
  const { values, positionals } = parsed;
  if (positionals.length > 0) return { error: `Unknown argument: ${positionals[0]}` };
  for (const flag of ['checkpoints', 'public-key', 'chain'] as const) {
    if (values[flag]?.includes('')) return { error: `--${flag} needs a value` };
  }
  return {
    checkpointFiles: values.checkpoints ?? [],
    publicKeyFiles: values['public-key'] ?? [],
    chains: values.chain ?? [],
    json: values.json === true,
    help: values.help === true,
  };
}

import { readFile } from 'node:fs/promises';
import type { AuditService } from '../audit/audit-service';
import { readAuditCheckpointFile, type SignedAuditCheckpoint } from '../audit/audit-checkpoint';
import type { AuditVerifyProblem, AuditVerifyReport } from '../audit/audit-verifier';
import { isByokError } from '../errors';
import type { Store } from '../store/store';
import { sanitizeString } from '../util/sanitize';

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
  --json              print the report as JSON
Exit code: 0 when intact, 1 when a chain is broken, 2 on a usage or configuration error.
`;

/**
 * `byok audit verify`: verifies the audit trail and returns the process exit code
 * (0 intact, 1 tampered, 2 usage/configuration error). Prints a summary, or names the
 * first bad row (chain, seq, id, reason).
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
  try {
    const checkpoints: SignedAuditCheckpoint[] = [];
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

  if (parsed.json) {
    ctx.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else if (report.ok) {
    ctx.stdout.write(
      `audit verify: OK — ${report.chains} chain${report.chains === 1 ? '' : 's'}, ${report.rows} row${report.rows === 1 ? '' : 's'}` +
        (parsed.checkpointFiles.length > 0 ? `, ${report.checkpoints} checkpoint${report.checkpoints === 1 ? '' : 's'} matched` : ', no checkpoints given') +
        '\n',
    );
  } else {
    const first = report.firstBad as AuditVerifyProblem;
    ctx.stdout.write(`audit verify: FAILED — first bad row: ${describe(first)}\n`);
    for (const problem of report.problems.slice(1)) ctx.stdout.write(`  also: ${describe(problem)}\n`);
    ctx.stdout.write(`checked ${report.chains} chains, ${report.rows} rows, ${report.checkpoints} checkpoints\n`);
  }
  return report.ok ? 0 : 1;
}

function describe(problem: AuditVerifyProblem): string {
  return `chain ${problem.chain}, seq ${problem.seq}, id ${problem.id ?? '(unknown)'}: ${problem.reason} (${problem.detail})`;
}

interface ParsedArgs {
  checkpointFiles: string[];
  publicKeyFiles: string[];
  chains: string[];
  json: boolean;
  help: boolean;
}

function parseArgs(args: string[]): ParsedArgs | { error: string } {
  const out: ParsedArgs = { checkpointFiles: [], publicKeyFiles: [], chains: [], json: false, help: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    switch (flag) {
      case '--json':
        out.json = true;
        break;
      case '--help':
      case '-h':
        out.help = true;
        break;
      case '--checkpoints':
      case '--public-key':
      case '--chain': {
        const value = inline ?? args[++i];
        if (value === undefined || value === '') return { error: `${flag} needs a value` };
        (flag === '--checkpoints' ? out.checkpointFiles : flag === '--public-key' ? out.publicKeyFiles : out.chains).push(value);
        break;
      }
      default:
        return { error: `Unknown argument: ${arg}` };
    }
  }
  return out;
}

import { createByok, type Byok, type ByokOptions } from '../byok';
import { isByokError } from '../errors';
import { runAuditVerify } from './audit-command';
import { runKeysCommand } from './keys-command';
import { runKmsCommand } from './kms-command';
import { parseArgs } from './cli-args';
import { loadConfig } from './config-loader';

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  cwd?: string;
}

const USAGE = `byok — the byok command-line tool

Usage:
  byok migrate [--status] [--config FILE]     apply pending migrations (or list their state)
  byok audit verify [--checkpoints FILE] [--json] [--config FILE]
                                              verify every audit chain; non-zero on tampering
  byok kms status                             sealed records per KEK version
  byok kms rewrap [--batch N]                 re-wrap every data key under the primary KEK (resumable)
  byok kms min-version N                      retire KEK versions below N once nothing uses them
  byok keys list|rotate|revoke KID            access-token signing keys (rotate: publish, then sign)

The options are read from byok.config.ts (default export: the createByok options).
`;

/**
 * Runs the `byok` command line and returns its exit code.
 *
 * @example
 * process.exitCode = await runCli(process.argv.slice(2), process);
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const { positionals, flags } = parseArgs(argv, ['config', 'checkpoints']);
  const [command, sub] = positionals;
  if (!command || flags.help || command === 'help') {
    io.stdout.write(USAGE);
    return command || flags.help ? 0 : 1;
  }
  try {
    const { options } = await loadConfig(typeof flags.config === 'string' ? flags.config : undefined, io.cwd);
    const known = command === 'migrate' || (command === 'audit' && sub === 'verify') || command === 'kms' || command === 'keys';
    if (known) {
      // Commands never migrate implicitly: `byok migrate` is the one that does.
      const byok = await createByok({ ...(options as ByokOptions), migrate: false });
      try {
        const rest = withoutConfigFlag(argv.slice(argv.indexOf(command === 'audit' ? 'verify' : command) + 1));
        const out = { stdout: io.stdout, stderr: io.stderr };
        if (command === 'migrate') return await runMigrate(byok, flags.status === true, io);
        if (command === 'audit') return await runAuditVerify(rest, { store: byok.store, audit: byok.audit, ...out });
        if (command === 'kms') return await runKmsCommand(rest, { byok, ...out });
        return await runKeysCommand(rest, { byok, ...out });
      } finally {
        await byok.close();
      }
    }
    io.stderr.write(`unknown command: ${positionals.join(' ')}\n\n${USAGE}`);
    return 2;
  } catch (error) {
    io.stderr.write(`byok: ${isByokError(error) ? `${error.code}: ${error.message}` : 'unexpected error (run with DEBUG=byok for details)'}\n`);
    if (process.env.DEBUG?.includes('byok') && !isByokError(error)) io.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
    return 1;
  }
}

async function runMigrate(byok: Byok, statusOnly: boolean, io: CliIo): Promise<number> {
  if (statusOnly) {
    for (const m of await byok.store.migrationStatus()) {
      io.stdout.write(`${m.appliedAt === null ? 'pending ' : 'applied '} ${m.name}${m.appliedAt === null ? '' : `  ${new Date(m.appliedAt).toISOString()}`}\n`);
    }
    return 0;
  }
  const report = await byok.store.migrate();
  io.stdout.write(report.applied.length ? `applied ${report.applied.join(', ')}\n` : 'nothing to apply: the database is up to date\n');
  return 0;
}

/** `--config` is the CLI's own flag; subcommands never see it. */
function withoutConfigFlag(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config') {
      i++;
      continue;
    }
    if (args[i]!.startsWith('--config=')) continue;
    out.push(args[i]!);
  }
  return out;
}

import { createByok, type Byok, type ByokOptions } from '../byok';
import { isByokError } from '../errors';
import { AUDIT_VERIFY_OPTIONS, runAuditVerify } from './audit-command';
import { CHAT_PURGE_OPTIONS, runChatPurge } from './chat-command';
import { KEYS_OPTIONS, runKeysCommand } from './keys-command';
import { KMS_OPTIONS, runKmsCommand } from './kms-command';
import { parseCliArgs, type CliOptions } from './cli-args';
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
  byok chat purge [--batch N] [--json]        delete chat sessions past chat.retention.maxAgeMs (resumable)

The options are read from byok.config.ts (default export: the createByok options).
`;

const GLOBAL_OPTIONS = { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const satisfies CliOptions;
const MIGRATE_OPTIONS = { status: { type: 'boolean' } } as const satisfies CliOptions;
const COMMAND_OPTIONS: Record<string, CliOptions> = { migrate: MIGRATE_OPTIONS, audit: AUDIT_VERIFY_OPTIONS, kms: KMS_OPTIONS, keys: KEYS_OPTIONS, chat: CHAT_PURGE_OPTIONS };
// Every flag of every command: a flag none of them knows (`--bacth`) fails before the
// config is loaded; each command then checks that the flags it got are its own.
const EVERY_OPTION = { ...MIGRATE_OPTIONS, ...AUDIT_VERIFY_OPTIONS, ...KMS_OPTIONS, ...KEYS_OPTIONS, ...CHAT_PURGE_OPTIONS, ...GLOBAL_OPTIONS } as const;

/**
 * Runs the `byok` command line and returns its exit code (2 on a usage error: an unknown
 * command or flag, a flag without its value).
 *
 * @example
 * process.exitCode = await runCli(process.argv.slice(2), process);
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCliArgs(argv, EVERY_OPTION);
  if ('error' in parsed) {
    io.stderr.write(`byok: ${parsed.error}\n\n${USAGE}`);
    return 2;
  }
  const { positionals, values, positionalIndexes, optionIndexes } = parsed;
  const [command, sub] = positionals;
  if (!command || values.help || command === 'help') {
    io.stdout.write(USAGE);
    return command || values.help ? 0 : 1;
  }
  const known = command === 'migrate' || (command === 'audit' && sub === 'verify') || command === 'kms' || command === 'keys' || (command === 'chat' && sub === 'purge');
  if (!known) {
    io.stderr.write(`unknown command: ${positionals.join(' ')}\n\n${USAGE}`);
    return 2;
  }
  // The command's own arguments: all but the command word(s) and the CLI's --config.
  const twoWords = command === 'audit' || command === 'chat';
  const skip = new Set([...(optionIndexes.config ?? []), ...positionalIndexes.slice(0, twoWords ? 2 : 1)]);
  const rest = argv.filter((_, i) => !skip.has(i));
  const own = parseCliArgs(rest, COMMAND_OPTIONS[command]!);
  const stray = 'error' in own ? own.error : command === 'migrate' && own.positionals.length > 0 ? `Unknown argument: ${own.positionals[0]}` : undefined;
  if (stray !== undefined) {
    io.stderr.write(`byok ${twoWords ? `${command} ${sub}` : command}: ${stray}\n\n${USAGE}`);
    return 2;
  }
  try {
    const { options } = await loadConfig(values.config, io.cwd);
    // Commands never migrate implicitly: `byok migrate` is the one that does.
    const byok = await createByok({ ...(options as ByokOptions), migrate: false });
    try {
      const out = { stdout: io.stdout, stderr: io.stderr };
      if (command === 'migrate') return await runMigrate(byok, values.status === true, io);
      if (command === 'audit') return await runAuditVerify(rest, { store: byok.store, audit: byok.audit, ...out });
      if (command === 'kms') return await runKmsCommand(rest, { byok, ...out });
      if (command === 'chat') return await runChatPurge(rest, { byok, retention: (options as { chat?: { retention?: unknown } }).chat?.retention, ...out });
      return await runKeysCommand(rest, { byok, ...out });
    } finally {
      await byok.close();
    }
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

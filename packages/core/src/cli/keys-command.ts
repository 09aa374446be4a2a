import type { Byok } from '../byok';
import { isByokError } from '../errors';
import { parseCliArgs, type CliOptions } from './cli-args';
import type { CommandOutput } from './audit-command';

/** What `byok keys …` works on. */
export interface KeysCommandContext {
  byok: Pick<Byok, 'auth'>;
  stdout: CommandOutput;
  stderr: CommandOutput;
}

/** The flags `byok keys` accepts. */
export const KEYS_OPTIONS = { 'publish-delay': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const satisfies CliOptions;

const USAGE = `Usage: byok keys <list | rotate | revoke KID> [--publish-delay SECONDS] [--json]

Manages the keys that sign access tokens (stored sealed by the vault).
  list                      the keys: kid, algorithm, created, signs from, retired
  rotate                    create a new key, published now and signing after the
                            publish delay (default auth.jwt.keyPublishDelaySeconds);
                            the current key retires at that moment and keeps verifying
  revoke KID                delete a key: tokens signed with it stop verifying
  --json                    print JSON
Exit code: 0 on success, 1 on failure, 2 on a usage or configuration error.
`;

/**
 * `byok keys list|rotate|revoke`: returns the process exit code.
 *
 * @example
 * process.exitCode = await runKeysCommand(['rotate'], { byok, stdout: process.stdout, stderr: process.stderr });
 */
export async function runKeysCommand(args: string[], ctx: KeysCommandContext): Promise<number> {
  const parsed = parseCliArgs(args, KEYS_OPTIONS);
  const problem =
    'error' in parsed
      ? parsed.error
      : parsed.positionals.length > (parsed.positionals[0] === 'revoke' ? 2 : 1)
        ? `Unknown argument: ${parsed.positionals.at(-1)}`
        : undefined;
  if (problem !== undefined || 'error' in parsed) {
    ctx.stderr.write(`byok keys: ${problem}\n\n${USAGE}`);
    return 2;
  }
  const { positionals, values: flags } = parsed;
  const [sub, kid] = positionals;
  if (!sub || flags.help) {
    ctx.stdout.write(USAGE);
    return sub || flags.help ? 0 : 2;
  }
  const auth = ctx.byok.auth;
  if (!auth) {
    ctx.stderr.write('byok keys: auth is not configured (auth.issuers) in byok.config\n');
    return 2;
  }
  const json = flags.json === true;
  try {
    if (sub === 'list') {
      const keys = await auth.keys.list();
      if (json) ctx.stdout.write(`${JSON.stringify(keys)}\n`);
      else {
        for (const k of keys) {
          const iso = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());
          ctx.stdout.write(`${k.kid}  ${k.alg}  created ${iso(k.createdAt)}  signs from ${iso(k.notBefore)}  retired ${iso(k.retiredAt)}\n`);
        }
        if (keys.length === 0) ctx.stdout.write('no signing keys\n');
      }
      return 0;
    }
    if (sub === 'rotate') {
      const delay = flags['publish-delay'];
      let publishDelayMs: number | undefined;
      if (typeof delay === 'string') {
        if (!/^\d+$/u.test(delay)) {
          ctx.stderr.write('byok keys rotate: --publish-delay takes whole seconds\n');
          return 2;
        }
        publishDelayMs = Number(delay) * 1000;
      }
      const result = await auth.rotateKeys(publishDelayMs === undefined ? {} : { publishDelayMs });
      if (json) ctx.stdout.write(`${JSON.stringify(result)}\n`);
      else {
        ctx.stdout.write(
          `new key ${result.kid} published; it signs from ${new Date(result.notBefore).toISOString()}` +
            `${result.previousKid ? ` (then ${result.previousKid} retires)` : ''}\n`,
        );
      }
      return 0;
    }
    if (sub === 'revoke') {
      if (!kid) {
        ctx.stderr.write(USAGE);
        return 2;
      }
      await auth.revokeKey(kid);
      ctx.stdout.write(json ? `${JSON.stringify({ revoked: kid })}\n` : `revoked ${kid}: tokens it signed no longer verify\n`);
      return 0;
    }
    ctx.stderr.write(`byok keys: unknown subcommand ${sub}\n\n${USAGE}`);
    return 2;
  } catch (error) {
    ctx.stderr.write(`byok keys: ${isByokError(error) ? `${error.code}: ${error.message}` : 'unexpected error'}\n`);
    return 1;
  }
}

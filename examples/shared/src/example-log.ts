import type { PreparedExample } from './example-setup.js';

/**
 * The lines an example prints when it is up: where it listens, where byok is, and — in
 * offline mode, in capitals — that it is offline, how to sign in and which keys the
 * stand-ins accept.
 *
 * @example
 * for (const line of startupLines({ prepared, hostName: 'Express', dir: 'examples/express-server' })) console.log(line);
 */
export function startupLines(input: { prepared: PreparedExample; url: string; hostName: string; dir: string; extra?: string[] }): string[] {
  const { prepared, url } = input;
  const lines = [`byok example (${input.hostName}) listening on ${url}`, `  open ${url}/ — byok under ${url}/api (OpenAPI at ${url}/api/openapi.json)`, ...(input.extra ?? [])];
  const offline = prepared.offline;
  if (offline) {
    lines.push('  OFFLINE MODE: development sign-in, provider stand-ins, generated master key (not for production)');
    lines.push(`  dev issuer ${offline.issuer.issuer} — sign in as ${offline.issuer.users.map((u) => u.sub).join(' or ')}`);
    lines.push(`  Gemini stand-in ${offline.gemini.url} — accepts keys starting with AIza, e.g. ${offline.sampleKeys.gemini}`);
    lines.push(`  OpenAI stand-in ${offline.openai.url} — accepts keys starting with sk-, e.g. ${offline.sampleKeys.openai}`);
    lines.push(`  Anthropic stand-in ${offline.anthropic.url} — accepts keys starting with sk-ant-, e.g. ${offline.sampleKeys.anthropic}`);
    lines.push(`  master-key file ${offline.keyFile}, audit checkpoint key ${offline.checkpointKeyFile}`);
  } else {
    lines.push(`  Google sign-in: register ${url}/api/auth/callback/google as an authorized redirect URI`);
  }
  lines.push(`  signed audit checkpoints → ${prepared.checkpointFile}`);
  lines.push(`  verify the trail (in ${input.dir}): pnpm exec byok audit verify --checkpoints ${prepared.checkpointFile}`);
  return lines;
}

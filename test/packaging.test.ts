import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { publint } from 'publint';
import { describe, expect, it } from 'vitest';
import { root, workspacePackages } from './workspace';

// The packaging check: every published package builds ESM + CJS + declarations, its
// exports map resolves, publint finds nothing and are-the-types-wrong finds no problem.
const published = workspacePackages().filter((p) => !p.private && p.hasSource);

describe.each(published)('package $name', (pkg) => {
  it('is built and passes publint', async () => {
    if (!existsSync(`${pkg.dir}/dist`)) execFileSync('pnpm', ['run', 'build'], { cwd: pkg.dir, stdio: 'ignore' });
    const { messages } = await publint({ pkgDir: pkg.dir, strict: true, level: 'warning' });
    expect(messages.map((m) => `${m.type}: ${m.code} ${JSON.stringify(m.args)}`)).toEqual([]);
  }, 120_000);

  it('has types that resolve under node10, node16 (CJS and ESM) and bundler', () => {
    const result = spawnSync('pnpm', ['exec', 'attw', '--pack', pkg.dir, '--format', 'json', '--no-emoji'], { cwd: root, encoding: 'utf8' });
    const report = JSON.parse(result.stdout.slice(result.stdout.indexOf('{')));
    const problems = (report.analysis?.problems ?? []) as Array<{ kind: string; entrypoint?: string; resolutionKind?: string }>;
    expect(problems.map((p) => `${p.kind} ${p.entrypoint ?? ''} ${p.resolutionKind ?? ''}`)).toEqual([]);
  }, 120_000);
});

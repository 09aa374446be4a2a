import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { workspacePackages } from './workspace';

// Every package and example type-checks (strict), tests included: an example that rots is a bug.
const checked = workspacePackages().filter((p) => p.hasSource && existsSync(`${p.dir}/tsconfig.json`));

describe.each(checked)('$name', (pkg) => {
  it('type-checks', () => {
    const result = spawnSync('pnpm', ['exec', 'tsc', '-p', 'tsconfig.json', '--pretty', 'false'], { cwd: pkg.dir, encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  }, 180_000);
});

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { root } from './workspace';

// The exported surface of every package and subpath is the committed api/*.api.md. A
// change to it fails here, naming the names that came or went, until the report is
// regenerated (`node scripts/api-report.mjs --update`) and committed with it.
describe('the API report', () => {
  it('matches the exported names and kinds of every entry point', () => {
    const result = spawnSync(process.execPath, ['scripts/api-report.mjs'], { cwd: root, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  }, 180_000);

  it('has a section for every subpath of each exports map', () => {
    const core = readFileSync(`${root}api/core.api.md`, 'utf8');
    for (const entry of ['@byok/core', '@byok/core/http', '@byok/core/store', '@byok/core/llm', '@byok/core/kms', '@byok/core/audit']) expect(core).toContain(`## \`${entry}\`\n`);
    const testing = readFileSync(`${root}api/testing.api.md`, 'utf8');
    for (const entry of ['@byok/testing', '@byok/testing/store', '@byok/testing/kms', '@byok/testing/oidc', '@byok/testing/llm', '@byok/testing/http']) expect(testing).toContain(`## \`${entry}\`\n`);
  });
});

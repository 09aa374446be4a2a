import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { root, workspacePackages } from './workspace';

// The README's contract: two commands, and only what exists described as existing.
describe('README', () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const planned = readme.slice(readme.indexOf('**Planned, not built yet:**'), readme.indexOf('\n\n', readme.indexOf('**Planned, not built yet:**')));

  it('gives exactly the two commands', () => {
    const commands = [...readme.matchAll(/```sh\n(node scripts\/run\.mjs [^\n]*)\n```/g)].map((m) => m[1]);
    expect(commands).toEqual(['node scripts/run.mjs start', 'node scripts/run.mjs test']);
    expect(existsSync(`${root}scripts/run.mjs`)).toBe(true);
    expect(existsSync(`${root}scripts/services.sh`)).toBe(true);
  });

  it('lists every package in the layout', () => {
    for (const pkg of workspacePackages().filter((p) => p.dir.includes('/packages/'))) {
      const dir = pkg.dir.slice(pkg.dir.indexOf('packages/'));
      expect(readme, dir).toContain(`\`${dir}\``);
    }
  });

  it('names what is not built only as planned, here and in the guides', () => {
    expect(planned).not.toBe('');
    const unbuilt = [
      { name: 'NestJS', exists: existsSync(`${root}packages/nest`) },
      { name: 'tRPC', exists: existsSync(`${root}packages/trpc`) },
      { name: '@byok/client', exists: existsSync(`${root}packages/client`) },
      { name: 'chat memory', exists: existsSync(`${root}packages/core/src/chat/chat-service.ts`) },
    ].filter((item) => !item.exists);
    for (const { name } of unbuilt) {
      expect(planned, name).toContain(name);
      expect(readme.replace(planned, ''), `${name} is described outside "Planned"`).not.toContain(name);
      for (const doc of ['docs/guides/getting-started.md', 'docs/security/model.md', 'docs/README.md']) {
        expect(readFileSync(`${root}${doc}`, 'utf8'), `${doc} mentions ${name}`).not.toContain(name);
      }
    }
  });
});

import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build, type Options } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import config from '../tsup.config';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));

/**
 * The package built as it is published (the JavaScript of both formats; its declarations
 * are built against core's build and checked by the packaging test) and installed in a
 * fresh project: `node_modules/@byok/client` with its one dependency.
 */
describe('the built package', () => {
  let project: string;
  let installed: string;
  beforeAll(async () => {
    project = mkdtempSync(join(tmpdir(), 'byok-client-'));
    installed = join(project, 'node_modules/@byok/client');
    mkdirSync(installed, { recursive: true });
    const options = (Array.isArray(config) ? config[0] : config) as Options & { entry: Record<string, string> };
        // From the package's folder, as `pnpm build` runs it: tsup reads its dependencies from there and keeps them external.
    const entry = Object.fromEntries(Object.entries(options.entry).map(([name, file]) => [name, join(packageDir, file)]));
    const cwd = process.cwd();
    process.chdir(packageDir);
    try {
      await build({ ...options, entry, outDir: join(installed, 'dist'), dts: false, silent: true });
    } finally {
      process.chdir(cwd);
    }
    cpSync(join(packageDir, 'package.json'), join(installed, 'package.json'));
    symlinkSync(join(packageDir, 'node_modules/eventsource-parser'), join(project, 'node_modules/eventsource-parser'), 'dir');
  }, 120_000);
  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('loads with require() from CommonJS and with import from ESM, each entry point', async () => {
    writeFileSync(
      join(project, 'check.cjs'),
      `const client = require('@byok/client');
const ai = require('@byok/client/ai');
const c = client.createByokClient({ baseUrl: 'http://127.0.0.1:9/api' });
const e = new client.ByokClientError({ code: 'not_found', status: 404, message: 'x' });
console.log(JSON.stringify({
  exports: Object.keys(client).sort(),
  ai: Object.keys(ai),
  loginUrl: c.loginUrl('google', { returnTo: '/chat' }),
  branded: client.isByokClientError(e),
  transport: typeof new ai.ByokChatTransport({ client: c }).sendMessages,
}));`,
    );
    writeFileSync(join(project, 'check.mjs'), `import { createByokClient } from '@byok/client';\nimport { ByokChatTransport } from '@byok/client/ai';\nconsole.log(typeof createByokClient, typeof ByokChatTransport);\n`);
    const cjs = JSON.parse((await run(process.execPath, ['check.cjs'], { cwd: project })).stdout);
    expect(cjs).toEqual({
      exports: ['BYOK_ROUTES', 'ByokClientError', 'createByokClient', 'isByokClientError', 'memoryTokenStore'],
      ai: ['ByokChatTransport'],
      loginUrl: 'http://127.0.0.1:9/api/auth/login/google?returnTo=%2Fchat',
      branded: true,
      transport: 'function',
    });
    expect((await run(process.execPath, ['check.mjs'], { cwd: project })).stdout.trim()).toBe('function function');
  });

  it('carries nothing of Node or of core: it runs in a browser', () => {
    const files = readdirSync(join(installed, 'dist')).filter((f) => /\.(c?js)$/.test(f));
    expect(files.sort()).toEqual(['ai.cjs', 'ai.js', 'index.cjs', 'index.js']);
    for (const file of files) {
      const code = readFileSync(join(installed, 'dist', file), 'utf8');
      const imported = [...code.matchAll(/(?:from\s*|require\()\s*["']([^"']+)["']/g)].map((m) => m[1]);
      // Its one runtime dependency, and nothing else from outside.
      expect(new Set(imported.filter((name) => !name!.startsWith('./'))), file).toEqual(new Set(file.startsWith('index') ? ['eventsource-parser'] : []));
      expect(code, file).not.toMatch(/\bnode:|\bBuffer\b|\bprocess\.|@byok\/core/);
    }
  });
});

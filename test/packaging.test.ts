import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publint } from 'publint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installConsumer, packAll, published, reportedValues, requiredPeers, workspaceVersion, type Consumer, type PackedPackage } from './packed-install';
import { root, workspacePackages } from './workspace';

// The packaging check: every published package builds ESM + CJS + declarations, its
// exports map resolves, publint and are-the-types-wrong find nothing, it ships a README,
// the MIT licence and its repository; and, packed and installed in a fresh project, it
// loads from CommonJS and from a TypeScript project on `node16` resolution, with one copy
// of kysely and zod, and without the peers it does not need.

const ENGINES = '^20.19.0 || >=22.12.0';
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;

describe.each(published())('package $name', (pkg) => {
  const manifest = readJson(join(pkg.dir, 'package.json'));

  it('is built and passes publint', async () => {
    if (!existsSync(`${pkg.dir}/dist`)) spawnSync('pnpm', ['run', 'build'], { cwd: pkg.dir, stdio: 'ignore' });
    const { messages } = await publint({ pkgDir: pkg.dir, strict: true, level: 'warning' });
    expect(messages.map((m) => `${m.type}: ${m.code} ${JSON.stringify(m.args)}`)).toEqual([]);
  }, 120_000);

  it('has types that resolve under node10, node16 (CJS and ESM) and bundler, for every entry point', () => {
    // @byok/testing is ESM only (vitest cannot be require()d), so its CommonJS resolutions are not checked.
    const esmOnly = !JSON.stringify(manifest.exports).includes('"require"');
    const args = ['exec', 'attw', '--pack', pkg.dir, '--format', 'json', '--no-emoji', ...(esmOnly ? ['--profile', 'esm-only'] : [])];
    const result = spawnSync('pnpm', args, { cwd: root, encoding: 'utf8' });
    const report = JSON.parse(result.stdout.slice(result.stdout.indexOf('{')));
    const entrypoints = Object.keys(report.analysis?.entrypoints ?? {});
    expect(entrypoints).toEqual(Object.keys(manifest.exports));
    const ignored = esmOnly ? new Set(['node10', 'node16-cjs']) : new Set<string>();
    const problems = ((report.analysis?.problems ?? []) as Array<{ kind: string; entrypoint?: string; resolutionKind?: string }>).filter((p) => !ignored.has(p.resolutionKind ?? ''));
    expect(problems.map((p) => `${p.kind} ${p.entrypoint ?? ''} ${p.resolutionKind ?? ''}`)).toEqual([]);
  }, 120_000);

  it('ships a README, the MIT licence and its repository', () => {
    expect(manifest.license).toBe('MIT');
    expect(readFileSync(join(pkg.dir, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
    expect(readFileSync(join(pkg.dir, 'README.md'), 'utf8')).toContain(`# ${manifest.name}`);
    expect(manifest.repository).toEqual({ type: 'git', url: expect.stringMatching(/^git\+https:\/\/.+\.git$/), directory: `packages/${pkg.dir.split('/').pop()}` });
    expect(manifest.files).toEqual(expect.arrayContaining(['dist', 'README.md', 'LICENSE']));
  });
});

describe('engines', () => {
  // 22.0–22.11 cannot require() the ESM-only jose and openid-client.
  it(`is ${ENGINES} in the root, every package, example and the bench`, () => {
    const manifests = [join(root, 'package.json'), join(root, 'bench/package.json'), ...workspacePackages().map((p) => join(p.dir, 'package.json'))];
    expect(manifests.map((file) => [file.slice(root.length), readJson(file).engines?.node])).toEqual(manifests.map((file) => [file.slice(root.length), ENGINES]));
  });
});

describe('@byok/core dist', () => {
  const dist = join(root, 'packages/core/dist');
  // The CLI entry imports the chunks the library entry points import: one copy of core.
  it.each(['js', 'cjs'])('defines ByokError once, in a shared chunk that the CLI and the root both import (.%s)', (ext) => {
    const files = readdirSync(dist).filter((f) => f.endsWith(`.${ext}`));
    // esbuild writes `var ByokError = class extends Error` (CJS: `(_class = class extends Error`).
    const defining = files.filter((f) => /\bByokError = (?:\(_class = )?class extends Error\b/.test(readFileSync(join(dist, f), 'utf8')));
    expect(defining).toHaveLength(1);
    expect(defining[0]).toMatch(/^chunk-/);
    const importsOf = (file: string) => [...readFileSync(join(dist, file), 'utf8').matchAll(/(?:from |require\()['"]\.\/(chunk-[\w-]+\.c?js)['"]/g)].map((m) => m[1]);
    const bin = (readJson(join(root, 'packages/core/package.json')).bin.byok as string).replace('./dist/', '');
    const cli = ext === 'js' ? bin : bin.replace(/\.js$/, '.cjs');
    expect(importsOf(cli).length).toBeGreaterThan(0);
    expect(importsOf(cli).filter((chunk) => importsOf(`index.${ext}`).includes(chunk)).length).toBeGreaterThan(0);
  });
});

describe('packed and installed in a fresh project', () => {
  let work: string;
  let packed: PackedPackage[];
  const byName = (name: string) => packed.find((p) => p.manifest.name === name)!;
  const versions = (names: string[]) => Object.fromEntries(names.map((n) => [n, workspaceVersion(n)]));

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'byok-packed-'));
    packed = packAll(join(work, 'tarballs'));
  }, 900_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  describe('a store author', () => {
    let consumer: Consumer;
    beforeAll(() => {
      const pkgs = [byName('@byok/core'), byName('@byok/testing')];
      consumer = installConsumer('store-author', pkgs, versions([...new Set(pkgs.flatMap(requiredPeers))]), 'module');
    }, 300_000);
    afterAll(() => rmSync(consumer.dir, { recursive: true, force: true }));

    it('installs neither gRPC, Cloud KMS, oidc-provider nor jiti', () => {
      expect(['@grpc/grpc-js', '@grpc/proto-loader', '@google-cloud/kms', 'oidc-provider', 'jiti'].filter((n) => consumer.hasInstalled(n))).toEqual([]);
    });

    it('loads @byok/testing/store (import and require) and the store contract', () => {
      writeFileSync(
        join(consumer.dir, 'store-author.mjs'),
        `import { storeConformance, memoryTamper } from '@byok/testing/store';
import { createStore, MemoryStore } from '@byok/core/store';
import { createRequire } from 'node:module';
const required = createRequire(import.meta.url)('@byok/testing/store');
const store = await createStore({ database: { memory: true } });
memoryTamper(store);
console.log(JSON.stringify({ suite: typeof storeConformance, required: typeof required.storeConformance, memory: store instanceof MemoryStore }));
await store.close();
`,
      );
      const run = consumer.node(['--no-warnings', 'store-author.mjs']);
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toEqual({ suite: 'function', required: 'function', memory: true });
    });
  });

  describe('a host with every package', () => {
    let consumer: Consumer;
    // The optional peers a host installs for the entry points that need them (`ai` for @byok/client/ai).
    const optionalKits = ['@grpc/grpc-js', '@grpc/proto-loader', '@google-cloud/kms', 'oidc-provider', 'ai'];
    const forTypeScript = ['typescript', '@types/node', '@types/express'];

    // The host brings older kysely and zod than the workspace's (the oldest byok's peer
    // ranges accept): byok must load and type-check on them, and use them rather than a
    // newer copy of its own.
    const HOST = { kysely: '0.28.0', zod: '4.1.0' };
    const floor = (name: keyof typeof HOST) => HOST[name];

    beforeAll(() => {
      const peers = [...new Set(packed.flatMap(requiredPeers)), ...optionalKits, ...forTypeScript];
      consumer = installConsumer('host', packed, { ...versions(peers), kysely: floor('kysely'), zod: floor('zod') }, 'commonjs');
    }, 300_000);
    afterAll(() => rmSync(consumer.dir, { recursive: true, force: true }));

    it('has one kysely and one zod: the host’s own, of the oldest version byok accepts', () => {
      const core = byName('@byok/core').manifest as { peerDependencies?: Record<string, string>; dependencies?: Record<string, string> };
      expect([core.peerDependencies?.kysely, core.peerDependencies?.zod, core.dependencies?.kysely, core.dependencies?.zod]).toEqual(['^0.28.0', '^4.1.0', undefined, undefined]);
      const version = (name: string) => readJson(join(consumer.dir, 'node_modules', name, 'package.json')).version;
      expect([version('kysely'), version('zod')]).toEqual([floor('kysely'), floor('zod')]);
      expect(readdirSync(join(consumer.dir, 'node_modules/.pnpm')).filter((d) => /^(kysely|zod)@/.test(d))).toEqual([`kysely@${floor('kysely')}`, `zod@${floor('zod')}`]);
      const coreDir = realpathSync(join(consumer.dir, 'node_modules/@byok/core'));
      const script = `const { realpathSync } = require('node:fs');
const from = (dir, name) => realpathSync(require.resolve(name, { paths: [dir] }));
console.log(JSON.stringify(['kysely', 'zod'].map((n) => from(${JSON.stringify(coreDir)}, n) === from(process.cwd(), n))));`;
      const run = consumer.node(['-e', script]);
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toEqual([true, true]);
    });

    it('loads every entry point from CommonJS, with the runtime exports the API report lists, and runs', () => {
      const expected = Object.fromEntries(packed.flatMap((p) => [...reportedValues(p.dir.split('/').pop()!)].map(([entry, names]) => [entry, [...names].sort()])));
      writeFileSync(
        join(consumer.dir, 'consumer.cjs'),
        `const { randomBytes } = require('node:crypto');
const specifiers = ${JSON.stringify(packed.flatMap((p) => p.specifiers))};
const exported = {};
for (const s of specifiers) exported[s] = Object.keys(require(s)).filter((k) => k !== 'default' && k !== '__esModule').sort();
const { createByok, localKms, isByokError, ByokError } = require('@byok/core');
const { errorResponse } = require('@byok/core/http');
(async () => {
  const byok = await createByok({ database: { memory: true }, kms: localKms({ keys: '1:' + randomBytes(32).toString('base64') }) });
  const { user } = await byok.users.findOrCreate({ issuer: 'https://issuer.test', subject: 'cjs' });
  let code = null;
  try { await byok.users.get('0190d6a0-0000-7000-8000-000000000000'); } catch (error) { code = isByokError(error) ? error.code : String(error); }
  const status = errorResponse(new ByokError('not_found', 'x')).status;
  await byok.close();
  console.log(JSON.stringify({ exported, user: typeof user.id, code, status }));
})().catch((error) => { console.error(error); process.exit(1); });
`,
      );
      const run = consumer.node(['--no-warnings', 'consumer.cjs']);
      expect(run.stderr).toBe('');
      const out = JSON.parse(run.stdout);
      // A mismatch with a fresh report but an old build: `pnpm -r --filter ./packages/* run build`.
      expect(out.exported, 'runtime exports of the packed builds vs api/*.api.md').toEqual(expected);
      expect({ user: out.user, code: out.code, status: out.status }).toEqual({ user: 'string', code: 'not_found', status: 404 });
    }, 120_000);

    it('compiles a TypeScript project on node16 resolution that imports every entry point, and runs it', () => {
      const esm = join(consumer.dir, 'ts');
      spawnSync('mkdir', ['-p', join(esm, 'src')]);
      writeFileSync(join(esm, 'package.json'), JSON.stringify({ type: 'module' }));
      writeFileSync(
        join(esm, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'ES2022', strict: true, skipLibCheck: false, types: ['node'], outDir: 'dist', rootDir: 'src' },
          include: ['src'],
        }),
      );
      const specifiers = packed.flatMap((p) => p.specifiers);
      const imports = specifiers.map((s, i) => `import * as entry${i} from '${s}';`).join('\n');
      writeFileSync(
        join(esm, 'src/consumer.ts'),
        `${imports}
import { randomBytes } from 'node:crypto';
import { createByok, localKms, isByokError, type Byok, type ByokErrorCode } from '@byok/core';
import type { ByokRequest } from '@byok/core/http';
import type { Store } from '@byok/core/store';

const entries: Record<string, object> = { ${specifiers.map((s, i) => `'${s}': entry${i}`).join(', ')} };
const byok: Byok<null> = await createByok({ database: { memory: true }, kms: localKms({ keys: '1:' + randomBytes(32).toString('base64') }) });
const store: Store = byok.store;
const request: ByokRequest = { method: 'GET', url: '/me', headers: {}, remoteAddress: '127.0.0.1' };
const response = await byok.http.handle(request);
let code: ByokErrorCode | null = null;
try {
  await store.users.get('nobody');
  await byok.users.get('0190d6a0-0000-7000-8000-000000000000');
} catch (error) {
  if (isByokError(error)) code = error.code;
}
await byok.close();
console.log(JSON.stringify({ entries: Object.keys(entries).length, status: response.status, code }));
`,
      );
      // skipLibCheck is off so that byok's own declarations are checked; errors inside other
      // libraries' declarations (google-auth-library's, under node16) are not ours to fix.
      const tsc = spawnSync(process.execPath, [join(consumer.dir, 'node_modules/typescript/bin/tsc'), '-p', esm, '--pretty', 'false'], { cwd: esm, encoding: 'utf8' });
      const ours = (tsc.stdout + tsc.stderr).split('\n').filter((line) => /^\S/.test(line) && (!line.includes('node_modules/') || line.includes('/@byok/')));
      expect(ours).toEqual([]);
      expect(existsSync(join(esm, 'dist/consumer.js'))).toBe(true);
      const run = consumer.node(['--no-warnings', join(esm, 'dist/consumer.js')]);
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toEqual({ entries: specifiers.length, status: 401, code: 'not_found' });
    }, 180_000);

    it('runs the byok CLI without jiti: a JavaScript config loads, a TypeScript one names jiti', () => {
      expect(consumer.hasInstalled('jiti')).toBe(false);
      const bin = join(consumer.dir, 'node_modules/@byok/core', readJson(join(consumer.dir, 'node_modules/@byok/core/package.json')).bin.byok);
      const project = mkdtempSync(join(consumer.dir, 'cli-'));
      writeFileSync(join(project, 'byok.config.mjs'), `export default { database: { memory: true } };\n`);
      const js = spawnSync(process.execPath, [bin, 'migrate', '--status'], { cwd: project, encoding: 'utf8' });
      expect(js.stderr).toBe('');
      expect(js.stdout).toMatch(/^(pending|applied)\s+0001/m);
      writeFileSync(join(project, 'byok.config.ts'), `export default { database: { memory: true as const } };\n`);
      const ts = spawnSync(process.execPath, [bin, 'migrate', '--status', '--config', 'byok.config.ts'], { cwd: project, encoding: 'utf8' });
      expect(ts.status).toBe(1);
      expect(ts.stderr).toContain('jiti');
      expect(ts.stderr).toContain('byok.config.mjs');
    }, 60_000);
  });
});

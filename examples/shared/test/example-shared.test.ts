import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { examplePageHandler, prepareExample, PUBLIC_DIR, resolveExampleMode, startupLines } from '../src/index';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'byok-example-shared-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A complete Google-mode environment (nothing here reaches Google: no request is made). */
function googleEnv(dir: string): Record<string, string> {
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'checkpoint.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return {
    GOOGLE_CLIENT_ID: 'id.apps.googleusercontent.com',
    GOOGLE_CLIENT_SECRET: 'secret',
    PUBLIC_URL: 'https://byok.example',
    BYOK_MASTER_KEYS: `1:${Buffer.alloc(32, 7).toString('base64')}`,
    BYOK_AUDIT_CHECKPOINT_KEY_FILE: join(dir, 'checkpoint.pem'),
    BYOK_AUDIT_CHECKPOINT_FILE: join(dir, 'checkpoints.jsonl'),
  };
}

describe('@byok/example-shared: the mode', () => {
  it('refuses offline mode in production and off loopback, and a half configuration', () => {
    expect(() => resolveExampleMode({ NODE_ENV: 'production' }, '127.0.0.1')).toThrow(/refused when NODE_ENV=production/);
    expect(() => resolveExampleMode({}, '192.168.1.10')).toThrow(/only on a loopback address/);
    expect(() => resolveExampleMode({ PUBLIC_URL: 'https://byok.example' }, '127.0.0.1')).toThrow(/Incomplete configuration: GOOGLE_CLIENT_ID/);
    expect(resolveExampleMode({}, '::1')).toEqual({ kind: 'offline' });
    expect(() => resolveExampleMode({ ...googleEnv(tempDir()), PUBLIC_URL: 'https://byok.example/app' }, '0.0.0.0')).toThrow(/bare origin/);
  });

  it('builds Google-mode options from the environment: providers, KMS, and refusals with a clear message', async () => {
    const dir = tempDir();
    const env = googleEnv(dir);
    const prepared = await prepareExample({ env: { ...env, BYOK_PROVIDERS: 'gemini,openai', OPENAI_MODELS: 'gpt-5-mini' }, host: '0.0.0.0', localOrigin: 'http://0.0.0.0:3000', dataDir: dir, hostName: 'Test' });
    try {
      expect(prepared.mode.kind).toBe('google');
      expect(prepared.offline).toBeNull();
      expect(prepared.url).toBe('https://byok.example');
      expect(prepared.byokOptions.providers!.map((p) => p.id)).toEqual(['gemini', 'openai']);
      expect(prepared.pageConfig).toMatchObject({ mode: 'google', issuer: 'google', offline: null, providers: [{ id: 'gemini', sampleKey: null }, { id: 'openai', models: ['gpt-5-mini'] }] });
      expect(prepared.checkpointFile).toBe(join(dir, 'checkpoints.jsonl'));
      expect(startupLines({ prepared, url: prepared.url, hostName: 'Test', dir: '.' }).join('\n')).not.toContain('OFFLINE MODE');
    } finally {
      await prepared.close();
    }
    const aws = await prepareExample({ env: { ...env, BYOK_MASTER_KEYS: '', BYOK_KMS: 'aws', AWS_KMS_KEY_ID: 'alias/byok', AWS_REGION: 'eu-west-1' }, host: '0.0.0.0', localOrigin: 'x', dataDir: dir, hostName: 'Test' });
    expect((aws.byokOptions.kms as { id: string }).id).toBe('aws');
    await aws.close();
    await expect(prepareExample({ env: { ...env, BYOK_KMS: 'gcp' }, host: '0.0.0.0', localOrigin: 'x', dataDir: dir, hostName: 'Test' })).rejects.toThrow(/GCP_KMS_KEY_NAME/);
    await expect(prepareExample({ env: { ...env, BYOK_PROVIDERS: 'gemini,mistral' }, host: '0.0.0.0', localOrigin: 'x', dataDir: dir, hostName: 'Test' })).rejects.toMatchObject({ code: 'config_invalid' });
  });
});

describe('@byok/example-shared: offline mode and the page', () => {
  let server: Server | undefined;
  afterAll(() => server?.close());

  it('starts the stand-ins, says OFFLINE MODE, and serves the page under a CSP that admits only its own scripts and the import map', async () => {
    const dir = tempDir();
    const prepared = await prepareExample({ env: {}, host: '127.0.0.1', localOrigin: 'http://127.0.0.1:1', dataDir: dir, hostName: 'Test' });
    try {
      expect(prepared.mode.kind).toBe('offline');
      expect(prepared.byokOptions.providers!.map((p) => p.id)).toEqual(['gemini', 'openai', 'anthropic']);
      expect(prepared.pageConfig.providers.every((p) => p.sampleKey !== null)).toBe(true);
      expect(startupLines({ prepared, url: prepared.url, hostName: 'Test', dir: '.' }).join('\n')).toContain('OFFLINE MODE');
      for (const standIn of [prepared.offline!.gemini, prepared.offline!.openai, prepared.offline!.anthropic]) {
        expect((await fetch(`${standIn.url}/`)).status).toBeGreaterThanOrEqual(200);
      }

      const page = examplePageHandler(prepared.pageConfig);
      server = createServer((req, res) => {
        if (!page(req, res)) {
          res.statusCode = 404;
          res.end();
        }
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const html = readFileSync(join(PUBLIC_DIR, 'index.html'), 'utf8');
      const res = await fetch(`${base}/`);
      expect(await res.text()).toBe(html);
      const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)![1]!;
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain(`script-src 'self' 'sha256-${createHash('sha256').update(importMap).digest('base64')}'`);
      expect(csp).toContain("object-src 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await (await fetch(`${base}/example/config.json`)).json()).toEqual(prepared.pageConfig);
      expect(await (await fetch(`${base}/vendor/eventsource-parser.js`)).text()).toContain('createParser');
      expect((await fetch(`${base}/markdown.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect((await fetch(`${base}/../package.json`)).status).toBe(404);
      expect((await fetch(`${base}/app.js`, { method: 'POST' })).status).toBe(404);
    } finally {
      await prepared.close();
    }
  });
});

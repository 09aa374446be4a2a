import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveExampleMode } from '../src/example-mode';
import { OFFLINE_SAMPLE_KEY } from '../src/offline-services';
import { startExample, type RunningExample } from '../src/start-example';

const EXAMPLE_DIR = fileURLToPath(new URL('..', import.meta.url));
// `node scripts/run.mjs test` finds a Chromium (installing Debian's where it can) and names it here.
const CHROMIUM = process.env.BYOK_CHROMIUM ?? '/usr/bin/chromium';

describe('example server: offline mode refusals', () => {
  it('refuses offline mode in production, off loopback, and with half a configuration', async () => {
    expect(() => resolveExampleMode({ NODE_ENV: 'production' }, '127.0.0.1')).toThrow(/refused when NODE_ENV=production/);
    expect(() => resolveExampleMode({}, '0.0.0.0')).toThrow(/only on a loopback address/);
    expect(() => resolveExampleMode({ GOOGLE_CLIENT_ID: 'id.apps.googleusercontent.com' }, '127.0.0.1')).toThrow(
      /GOOGLE_CLIENT_SECRET, BYOK_MASTER_KEYS, PUBLIC_URL, BYOK_AUDIT_CHECKPOINT_KEY, BYOK_AUDIT_CHECKPOINT_FILE are missing/,
    );
    expect(resolveExampleMode({ NODE_ENV: 'development' }, 'localhost')).toEqual({ kind: 'offline' });
    expect(
      resolveExampleMode(
        {
          GOOGLE_CLIENT_ID: 'id',
          GOOGLE_CLIENT_SECRET: 'secret',
          BYOK_MASTER_KEY_FILE: '/keys',
          PUBLIC_URL: 'https://byok.example/',
          BYOK_AUDIT_CHECKPOINT_KEY_FILE: '/keys/audit-checkpoint-key.pem',
          BYOK_AUDIT_CHECKPOINT_FILE: '/mnt/worm/audit-checkpoints.jsonl',
        },
        '0.0.0.0',
      ),
    ).toMatchObject({
      kind: 'google',
      publicUrl: 'https://byok.example',
      checkpointKey: { file: '/keys/audit-checkpoint-key.pem' },
      checkpointFile: '/mnt/worm/audit-checkpoints.jsonl',
    });
    await expect(startExample({ port: 0, host: '0.0.0.0', env: {} })).rejects.toThrow(/loopback/);
  });

  // Generous timeouts: tsx compiles the server on start, and CI machines are shared.
  it('the start command exits with a clear message when NODE_ENV=production and nothing is configured', { timeout: 90_000 }, () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: EXAMPLE_DIR,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', PORT: '0' },
      encoding: 'utf8',
      timeout: 80_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('byok example did not start: Offline mode');
    expect(run.stderr).toContain('refused when NODE_ENV=production');
  });
});

describe('example server: the page in a browser (offline mode)', () => {
  let example: RunningExample;
  let browser: Browser;
  let dataDir: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium, or set BYOK_CHROMIUM`);
    dataDir = mkdtempSync(join(tmpdir(), 'byok-example-'));
    example = await startExample({ port: 0, issuerPort: 0, dataDir, env: { NODE_ENV: 'test' } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await example?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('signs in at the dev issuer, saves a preference, stores a key, shows the audit trail, signs out', { timeout: 45_000 }, async () => {
    expect(example.mode).toBe('offline');
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // Expected: the signed-out probes of /api/me and /api/auth/refresh (401) and the refused key (422).
      // Pages of the issuer are not ours.
      const at = message.location().url;
      const expected =
        ((at.endsWith('/api/me') || at.endsWith('/api/auth/refresh')) && message.text().includes('401')) ||
        (at.endsWith('/api/keys/gemini') && message.text().includes('422'));
      if (message.type() === 'error' && at.startsWith(example.url) && !expected) problems.push(`console: ${message.text()} at ${at}`);
    });

    // Signed out: the offline banner and the sign-in link.
    await page.goto(example.url);
    await page.waitForSelector('body[data-state="signed-out"]');
    const banner = page.locator('#offline-banner');
    await expect(banner.isVisible()).resolves.toBe(true);
    expect(await banner.textContent()).toContain('Offline mode');
    expect(await banner.textContent()).toContain('alice (Alice Example)');
    expect(await page.locator('#mode-badge').textContent()).toBe('offline mode');
    await page.screenshot({ path: '/tmp/example-signed-out.png' });

    // Sign in: byok redirects to the development issuer, whose pages we fill in like a person.
    await page.click('#sign-in');
    await page.waitForURL((url) => url.origin === example.offline!.issuer.issuer);
    await page.fill('input[name="login"]', 'alice');
    await page.click('button[type="submit"]');
    await page.waitForSelector('form[data-prompt="consent"]');
    await page.click('button[type="submit"]');
    await page.waitForURL(`${example.url}/`);
    await page.waitForSelector('body[data-state="signed-in"]');
    expect(await page.locator('#profile-name').textContent()).toBe('Alice Example');
    expect(await page.locator('#profile-email').textContent()).toBe('alice@example.test (verified)');
    expect(await page.locator('#sessions li').count()).toBe(1);
    expect(await page.locator('#sessions li').first().textContent()).toContain('this device');

    // Preferences: the theme is saved (PATCH with the browser's Origin) and applied.
    await page.selectOption('#theme', 'dark');
    await page.click('#prefs-form button[type="submit"]');
    await page.waitForSelector('#prefs-status.ok');
    expect(await page.locator('#prefs-status').textContent()).toBe('Saved: theme dark');
    expect(await page.locator('html').getAttribute('data-theme')).toBe('dark');

    // Key vault: the sample key is on screen; a wrong key is refused, the sample key is stored.
    expect(await page.locator('#sample-key').textContent()).toBe(OFFLINE_SAMPLE_KEY);
    expect(await page.locator('#key-provider').inputValue()).toBe('gemini');
    await page.fill('#api-key', 'not-a-gemini-key-0000');
    await page.click('#key-form button[type="submit"]');
    await page.waitForSelector('#key-status.bad');
    expect(await page.locator('#key-status').textContent()).toContain('key_invalid');
    expect(await page.locator('#keys-body').textContent()).toContain('No keys stored yet.');

    await page.click('#use-sample-key');
    expect(await page.locator('#api-key').inputValue()).toBe(OFFLINE_SAMPLE_KEY);
    await page.click('#key-form button[type="submit"]');
    await page.waitForSelector('#key-status.ok');
    expect(await page.locator('#key-status').textContent()).toBe('Stored the gemini key ending in abcd: valid');
    const keyRow = page.locator('#keys-body tr[data-provider="gemini"]');
    expect(await keyRow.locator('.pill').textContent()).toBe('valid');
    expect(await keyRow.textContent()).toContain('••••abcd');
    expect(await page.locator('#api-key').inputValue()).toBe('');
    // The real Gemini client checked the key against the stand-in.
    expect(example.offline!.gemini.requests.some((r) => r.key === OFFLINE_SAMPLE_KEY)).toBe(true);

    // Audit trail: the user's own rows, newest first.
    await page.locator('#audit-body', { hasText: 'key.set' }).waitFor();
    const audit = (await page.locator('#audit-body').textContent()) ?? '';
    for (const action of ['auth.login.succeeded', 'preferences.updated', 'key.set']) expect(audit).toContain(action);
    expect(await page.locator('#audit-body tr').count()).toBeGreaterThanOrEqual(4);

    // A reload keeps the session and the saved theme.
    await page.reload();
    await page.waitForSelector('body[data-state="signed-in"]');
    expect(await page.locator('#theme').inputValue()).toBe('dark');
    expect(await page.locator('html').getAttribute('data-theme')).toBe('dark');
    await page.screenshot({ path: '/tmp/example.png', fullPage: true });

    // Sign out: POST /api/auth/logout with the page's Origin; the session is gone.
    await page.click('#sign-out');
    await page.waitForSelector('body[data-state="signed-out"]');
    const me = await page.request.get(`${example.url}/api/me`);
    expect(me.status()).toBe(401);
    const cookies = await context.cookies(example.url);
    expect(cookies.filter((c) => c.name === 'byok_at' || c.name === 'byok_rt')).toEqual([]);

    expect(problems).toEqual([]);
    await context.close();
  });
});

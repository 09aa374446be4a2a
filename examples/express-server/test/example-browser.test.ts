/// <reference lib="dom" />
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OFFLINE_SAMPLE_KEY, offlineReplyScript, resolveExampleMode } from '@byok/example-shared';
import { startExample, type RunningExample } from '../src/start-example';

const EXAMPLE_DIR = fileURLToPath(new URL('..', import.meta.url));
/** Gitignored: the screenshots the browser test saves, at desktop and phone widths. */
const SCREENSHOTS = join(EXAMPLE_DIR, 'test', 'screenshots');
// `node scripts/run.mjs test` finds a Chromium (installing Debian's where it can) and names it here.
const CHROMIUM = process.env.BYOK_CHROMIUM ?? '/usr/bin/chromium';
/** The user's own key: accepted by the Gemini stand-in, and never shown anywhere. */
const SECRET_KEY = `AIzaSy${randomBytes(18).toString('base64url')}`;

/** The Gemini stand-in's scripted reply: Markdown, with an HTML injection and a javascript: link that must render inert. */
function scriptedReply(userText: string): string {
  const words = Array.from({ length: 24 }, (_, i) => `word${i + 1}`).join(' ');
  return [
    `## Answer to ${userText}`,
    '',
    `Here is **bold**, *italic* and \`code\`. ${words}.`,
    '',
    '- first <img src=x onerror=alert(1)>',
    '- [x](javascript:alert(1)) and [docs](https://example.com/docs)',
    '',
    '```',
    '<script>alert(2)</script>',
    '```',
    '',
    `Done with ${userText}.`,
  ].join('\n');
}

describe('example server: offline mode refusals', () => {
  it('refuses offline mode in production, off loopback, and with half a configuration', async () => {
    expect(() => resolveExampleMode({ NODE_ENV: 'production' }, '127.0.0.1')).toThrow(/refused when NODE_ENV=production/);
    expect(() => resolveExampleMode({}, '0.0.0.0')).toThrow(/only on a loopback address/);
    expect(() => resolveExampleMode({ GOOGLE_CLIENT_ID: 'id.apps.googleusercontent.com' }, '127.0.0.1')).toThrow(
      /GOOGLE_CLIENT_SECRET, BYOK_MASTER_KEYS, PUBLIC_URL, BYOK_AUDIT_CHECKPOINT_KEY, BYOK_AUDIT_CHECKPOINT_FILE are missing/,
    );
    expect(resolveExampleMode({ NODE_ENV: 'development' }, 'localhost')).toEqual({ kind: 'offline' });
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

describe('example server: the chat page in a browser (offline mode)', () => {
  let example: RunningExample;
  let browser: Browser;
  let dataDir: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium, or set BYOK_CHROMIUM`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'byok-example-'));
    example = await startExample({ port: 0, issuerPort: 0, dataDir, env: { NODE_ENV: 'test' }, logger: { info: () => undefined, warn: (o, m) => console.warn('byok warn', m, o), error: (o, m) => console.error('byok error', m, o) } });
    example.offline!.gemini.setReply((turn) => {
      if (turn.route !== 'stream') return offlineReplyScript(turn); // the chat's title
      return scriptedReply(turn.messages.filter((m) => m.role === 'user').at(-1)?.text ?? '');
    });
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

  /** The text of every message of the open chat, as `role: text`, and their statuses. */
  async function messages(page: Page): Promise<Array<{ role: string; status: string; text: string }>> {
    return page.$$eval('#messages > li', (items) =>
      items.map((li) => ({ role: (li as HTMLElement).dataset.role!, status: (li as HTMLElement).dataset.status!, text: li.querySelector('.body')!.textContent ?? '' })),
    );
  }

  const rendered = (userText: string) =>
    // What the renderer shows of scriptedReply(): Markdown syntax gone, the HTML as plain text.
    `Answer to ${userText}`;

  it('signs in, sets a key, chats with streamed replies that survive a reload, stops, edits, regenerates, switches branch, renames, exports, deletes, signs out', { timeout: 90_000 }, async () => {
    const started = Date.now();
    const gemini = example.offline!.gemini;
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    const dialogs: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('dialog', (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      void (dialog.type() === 'confirm' ? dialog.accept() : dialog.dismiss());
    });
    page.on('console', (message) => {
      // Expected: the signed-out probes of /api/me and /api/auth/refresh (401), the refused key (422). The issuer's pages are not ours.
      const at = message.location().url;
      const expected =
        ((at.endsWith('/api/me') || at.endsWith('/api/auth/refresh')) && message.text().includes('401')) || (at.includes('/api/keys/') && message.text().includes('422'));
      if (message.type() === 'error' && at.startsWith(example.url) && !expected) problems.push(`console: ${message.text()} at ${at}`);
    });
    // Every response the page gets, to check that the key never comes back in one.
    const responses: Promise<string>[] = [];
    page.on('response', (response) => {
      responses.push(
        response
          .body()
          .then((b) => `${JSON.stringify(response.headers())}\n${b.toString('utf8')}`)
          .catch(() => JSON.stringify(response.headers())),
      );
    });

    // Signed out: the offline banner, and the page's Markdown renderer on hostile input.
    await page.goto(example.url);
    await page.waitForSelector('body[data-state="signed-out"]');
    expect(await page.locator('#offline-banner').textContent()).toContain('Offline mode');
    expect(await page.locator('#mode-badge').textContent()).toBe('offline mode');
    expect(await page.locator('#host-name').textContent()).toBe('(Express)');
    // A string, so the test runner does not rewrite the page's import().
    const inert = (await page.evaluate(`(async () => {
      const { renderMarkdown } = await import('/markdown.js');
      const box = document.createElement('div');
      box.append(renderMarkdown('<img src=x onerror=alert(1)> [x](javascript:alert(1)) [y]( JaVa\\tScRiPt:alert(1)) ![i](https://e.test/i.png) <b>b</b> [ok](https://example.com/)'));
      return { html: box.innerHTML, text: box.textContent, tags: [...box.querySelectorAll('*')].map((n) => n.tagName), hrefs: [...box.querySelectorAll('a')].map((a) => a.getAttribute('href')) };
    })()`)) as { html: string; text: string; tags: string[]; hrefs: string[] };
    expect(inert.tags).toEqual(['P', 'A']);
    expect(inert.hrefs).toEqual(['https://example.com/']);
    expect(inert.text).toContain('<img src=x onerror=alert(1)>');
    expect(inert.html).not.toMatch(/<img|<b>|javascript:/i);
    await page.screenshot({ path: join(SCREENSHOTS, 'signed-out-desktop.png') });

    // Sign in: byok redirects to the development issuer, whose pages we fill in like a person.
    await page.click('#sign-in');
    await page.waitForURL((url) => url.origin === example.offline!.issuer.issuer);
    await page.fill('input[name="login"]', 'alice');
    await page.click('button[type="submit"]');
    await page.waitForSelector('form[data-prompt="consent"]');
    await page.click('button[type="submit"]');
    await page.waitForURL(`${example.url}/`);
    await page.waitForSelector('body[data-state="signed-in"]');
    expect(await page.locator('#whoami').textContent()).toBe('Signed in as Alice Example');

    // Keys: a wrong key is refused, the sample key is stored, tested; its status shows per provider.
    expect(await page.locator('#key-provider').inputValue()).toBe('gemini');
    await page.fill('#api-key', 'not-a-gemini-key-0000');
    await page.click('#key-save');
    await page.waitForSelector('#key-status.bad');
    expect(await page.locator('#key-status').textContent()).toContain('key_invalid');
    // The offline sample key is on the page (it is public); the user's own key is what must never come back.
    await page.click('#use-sample-key');
    expect(await page.locator('#api-key').inputValue()).toBe(OFFLINE_SAMPLE_KEY);
    await page.fill('#api-key', SECRET_KEY);
    await page.click('#key-test-new');
    await page.locator('#key-status', { hasText: 'That Google Gemini key is valid; not saved' }).waitFor();
    await page.click('#key-save');
    await page.waitForSelector('#key-status.ok');
    expect(await page.locator('#key-status').textContent()).toBe(`Stored the Google Gemini key ending in ${SECRET_KEY.slice(-4)}: valid`);
    expect(await page.locator('#api-key').inputValue()).toBe('');
    expect(await page.content()).not.toContain(SECRET_KEY);
    const geminiRow = page.locator('#keys-body tr[data-provider="gemini"]');
    expect(await geminiRow.locator('.pill').textContent()).toBe('valid');
    expect(await page.locator('#keys-body tr[data-provider="anthropic"] .pill').textContent()).toBe('no key');
    await geminiRow.getByRole('button', { name: 'Test the Google Gemini key' }).click();
    await page.locator('#key-status', { hasText: 'The Google Gemini key is valid' }).waitFor();
    expect(example.offline!.gemini.requests.some((r) => r.key === SECRET_KEY)).toBe(true);

    // A chat: pick provider and model, send, watch the reply stream in.
    gemini.configure({ chunks: 24, chunkDelayMs: 60 });
    await page.selectOption('#new-provider', 'gemini');
    await page.selectOption('#new-model', 'gemini-2.5-pro');
    await page.click('#new-chat button[type="submit"]');
    await page.waitForSelector('#composer:not([hidden])');
    await page.fill('#composer-text', 'first question');
    await page.keyboard.press('Enter');
    const liveBody = page.locator('#messages li[data-live="true"] .body');
    await page.waitForFunction(() => (document.querySelector('#messages li[data-live="true"] .body')?.textContent ?? '').length > 5);
    const early = (await liveBody.textContent()) ?? '';
    await page.waitForFunction((n) => (document.querySelector('#messages li[data-live="true"] .body')?.textContent ?? '').length > n + 10, early.length);
    expect(((await liveBody.textContent()) ?? '').startsWith(early)).toBe(true);
    await page.waitForSelector('body[data-streaming="false"]');
    let shown = await messages(page);
    expect(shown.map((m) => `${m.role}:${m.status}`)).toEqual(['user:complete', 'assistant:complete']);
    expect(shown[1]!.text).toContain(rendered('first question'));
    // The reply's Markdown is rendered, its HTML is inert text.
    const reply = page.locator('#messages li[data-role="assistant"]').first();
    expect(await reply.locator('h4').textContent()).toBe('Answer to first question');
    expect(await reply.locator('strong').textContent()).toBe('bold');
    expect(await reply.locator('img, script, b').count()).toBe(0);
    expect(await reply.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))).toEqual(['https://example.com/docs']);
    expect(await reply.locator('.body').textContent()).toContain('<img src=x onerror=alert(1)>');
    expect(await reply.locator('li').nth(1).textContent()).toBe('x and docs'); // the javascript: link is plain text
    expect(await reply.locator('pre code').textContent()).toBe('<script>alert(2)</script>');
    expect(await page.locator('#messages li[data-role="assistant"] .usage').first().textContent()).toMatch(/\d+ in · \d+ out tokens/);
    await page.locator('#session-usage', { hasText: 'This chat: 1 reply' }).waitFor();
    // byok names the chat after its first exchange (the stand-in answers the title request).
    await example.byok.chat.titlesIdle();

    // A reload mid-reply: the page resumes the live reply and shows it once.
    gemini.configure({ chunks: 40, chunkDelayMs: 100 });
    await page.fill('#composer-text', 'second question');
    await page.click('#send');
    await page.waitForFunction(() => (document.querySelector('#messages li[data-live="true"] .body')?.textContent ?? '').length > 10);
    await page.reload();
    await page.waitForSelector('body[data-state="signed-in"]');
    await page.waitForSelector('#messages li[data-live="true"]');
    const resumedEarly = (await liveBody.textContent()) ?? '';
    await page.waitForSelector('body[data-streaming="false"]', { timeout: 20_000 });
    shown = await messages(page);
    expect(shown.map((m) => `${m.role}:${m.status}`)).toEqual(['user:complete', 'assistant:complete', 'user:complete', 'assistant:complete']);
    const second = shown[3]!.text;
    expect(second.startsWith(resumedEarly.slice(0, 20))).toBe(true);
    expect(second.split(rendered('second question')).length).toBe(2); // once, not twice
    expect(second.split('Done with second question.').length).toBe(2);
    expect(second).toBe(shown[1]!.text.replaceAll('first question', 'second question'));

    // Stop a reply: it is kept, marked incomplete.
    await page.fill('#composer-text', 'third question');
    await page.click('#send');
    await page.waitForFunction(() => (document.querySelector('#messages li[data-live="true"] .body')?.textContent ?? '').length > 10);
    await page.click('#stop');
    await page.waitForSelector('body[data-streaming="false"]');
    await page.waitForSelector('#messages li[data-role="assistant"][data-status="incomplete"]');
    shown = await messages(page);
    expect(shown.map((m) => `${m.role}:${m.status}`)).toEqual(['user:complete', 'assistant:complete', 'user:complete', 'assistant:complete', 'user:complete', 'assistant:incomplete']);
    expect(shown[5]!.text.length).toBeGreaterThan(0);
    expect(shown[5]!.text).not.toContain('Done with third question.');
    expect(await page.locator('#messages li[data-status="incomplete"] .pill').textContent()).toContain('incomplete');
    await page.screenshot({ path: join(SCREENSHOTS, 'chat-desktop.png'), fullPage: true });

    // Edit the first message: a new branch with a new reply; the switcher shows 2 / 2.
    gemini.configure({ chunks: 4, chunkDelayMs: 10 });
    await page.locator('#messages li[data-role="user"]').first().getByRole('button', { name: 'Edit this message' }).click();
    await page.getByLabel('Edit message').fill('edited question');
    await page.getByRole('button', { name: 'Save and regenerate' }).click();
    await page.waitForSelector('body[data-streaming="false"]');
    await page.locator('#messages li[data-role="assistant"][data-status="complete"]').first().waitFor();
    shown = await messages(page);
    expect(shown.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(shown[0]!.text).toBe('edited question');
    expect(shown[1]!.text.startsWith(rendered('edited question'))).toBe(true);
    const firstUser = page.locator('#messages li[data-role="user"]').first();
    expect(await firstUser.locator('.branch-pos').textContent()).toBe('2 / 2');

    // Regenerate the reply: a sibling reply, 2 / 2 on it.
    gemini.setReply((turn) => (turn.route === 'stream' ? `A regenerated answer to ${turn.messages.at(-1)?.text}.` : offlineReplyScript(turn)));
    await page.locator('#messages li[data-role="assistant"]').first().getByRole('button', { name: 'Regenerate this reply' }).click();
    await page.waitForSelector('body[data-streaming="false"]');
    await page.locator('#messages li[data-role="assistant"] .branch-pos', { hasText: '2 / 2' }).waitFor();
    shown = await messages(page);
    expect(shown[1]!.text).toBe('A regenerated answer to edited question.');
    // Back to the first reply of the edited message, then back to the original branch.
    await page.locator('#messages li[data-role="assistant"]').getByRole('button', { name: 'Previous branch' }).click();
    await page.locator('#messages li[data-role="assistant"] .branch-pos', { hasText: '1 / 2' }).waitFor();
    expect((await messages(page))[1]!.text).toContain(rendered('edited question'));
    await page.locator('#messages li[data-role="user"]').first().getByRole('button', { name: 'Previous branch' }).click();
    await page.locator('#messages li[data-role="user"] .branch-pos', { hasText: '1 / 2' }).waitFor();
    shown = await messages(page);
    expect(shown.map((m) => `${m.role}:${m.status}`)).toEqual(['user:complete', 'assistant:complete', 'user:complete', 'assistant:complete', 'user:complete', 'assistant:incomplete']);
    expect(shown[0]!.text).toBe('first question');
    await page.locator('#session-usage', { hasText: /This chat: \d+ replies, \d+ in · \d+ out tokens/ }).waitFor();
    expect(await page.locator('#total-usage').textContent()).toMatch(/All your chats: \d+ replies/);

    // Every control on screen has an accessible name (a label, aria-label or its text).
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('input, select, textarea, button, a')]
        .filter((el) => el.getClientRects().length > 0)
        .filter((el) => {
          const labels = (el as HTMLInputElement).labels;
          const name = (labels && labels.length > 0 ? [...labels].map((l) => l.textContent).join('') : '') || el.getAttribute('aria-label') || (/^(BUTTON|A)$/.test(el.tagName) ? el.textContent : '');
          return !name?.trim();
        })
        .map((el) => el.id || el.outerHTML.slice(0, 80)),
    );
    expect(unnamed).toEqual([]);

    // Rename the chat (byok had named it after the first exchange).
    expect(await page.locator('#chat-title').textContent()).toBe('First question');
    await page.click('#rename-session');
    await page.fill('#rename-input', 'Renamed chat');
    await page.keyboard.press('Enter');
    await page.locator('#session-list .title', { hasText: 'Renamed chat' }).waitFor();
    expect(await page.locator('#chat-title').textContent()).toBe('Renamed chat');

    // Preferences: the theme is saved and applied.
    await page.selectOption('#theme', 'dark');
    await page.click('#prefs-form button[type="submit"]');
    await page.waitForSelector('#prefs-status.ok');
    expect(await page.locator('html').getAttribute('data-theme')).toBe('dark');

    // Phone width: one column, chat first, still usable.
    await page.setViewportSize({ width: 390, height: 844 });
    const phone = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      chatTop: document.querySelector('.chat')!.getBoundingClientRect().top,
      sidebarTop: document.querySelector('.sidebar')!.getBoundingClientRect().top,
    }));
    expect(phone.scroll).toBeLessThanOrEqual(390);
    expect(phone.chatTop).toBeLessThan(phone.sidebarTop);
    await page.screenshot({ path: join(SCREENSHOTS, 'chat-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });

    // Export my data: a JSON download of the user's data, without the key.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    const exported = readFileSync((await download.path())!, 'utf8');
    const data = JSON.parse(exported) as Record<string, unknown>;
    expect(JSON.stringify(data)).toContain('alice@example.test');
    expect(exported).not.toContain(SECRET_KEY);

    // My audit trail.
    await page.click('#audit-refresh');
    await page.locator('#audit-body', { hasText: 'key.set' }).waitFor();
    const audit = (await page.locator('#audit-body').textContent()) ?? '';
    for (const action of ['preferences.updated', 'key.set']) expect(audit).toContain(action);

    // Delete the chat (the page asks first).
    await page.click('#delete-session');
    await page.locator('#toast', { hasText: 'Chat deleted' }).waitFor();
    expect(await page.locator('#session-list li').count()).toBe(0);
    expect(dialogs.filter((d) => d.startsWith('confirm:'))).toHaveLength(1);
    expect((await page.request.get(`${example.url}/api/chat/sessions`)).status()).toBe(200);

    // The key never reached the page, its storage or any response.
    const pageText = await page.evaluate(() => document.documentElement.outerHTML + [...document.querySelectorAll('input, textarea')].map((i) => (i as HTMLInputElement).value).join('\n'));
    expect(pageText).not.toContain(SECRET_KEY);
    const storage = await page.evaluate(async () => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, idb: (await indexedDB.databases?.()) ?? [] }));
    expect(storage).not.toContain(SECRET_KEY);
    expect(JSON.stringify(await context.cookies())).not.toContain(SECRET_KEY);

    // Sign out.
    await page.click('#sign-out');
    await page.waitForSelector('body[data-state="signed-out"]');
    expect((await page.request.get(`${example.url}/api/me`)).status()).toBe(401);
    expect((await context.cookies(example.url)).filter((c) => c.name === 'byok_at' || c.name === 'byok_rt')).toEqual([]);

    const bodies = await Promise.all(responses);
    expect(bodies.length).toBeGreaterThan(20);
    for (const body of bodies) expect(body).not.toContain(SECRET_KEY);
    expect(dialogs.filter((d) => !d.startsWith('confirm:'))).toEqual([]); // no alert() from a reply
    expect(problems).toEqual([]);
    await context.close();
    console.log(`browser test: ${Date.now() - started} ms`);
  });
});

/// <reference lib="dom" />
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

// `node scripts/run.mjs test` finds a Chromium (installing Debian's where it can) and names it here.
const CHROMIUM = process.env.BYOK_CHROMIUM ?? '/usr/bin/chromium';

/** Debian's Chromium, headless, as every browser test here launches it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium, or set BYOK_CHROMIUM`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * The shared page on one host, in a real browser: it says offline mode and names the host,
 * signs in through the development issuer, stores the offline sample key, starts a chat and
 * gets a reply streamed (the stand-in's `echo: <text>`). Returns what went wrong on the
 * page (errors, unexpected failed requests): empty when all went well.
 */
export async function chatOnce(browser: Browser, input: { url: string; host: string; text: string }): Promise<{ reply: string; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    const at = message.location().url;
    const expected = (at.endsWith('/api/me') || at.endsWith('/api/auth/refresh')) && message.text().includes('401');
    if (message.type() === 'error' && at.startsWith(input.url) && !expected) problems.push(`console: ${message.text()} at ${at}`);
  });
  try {
    await page.goto(input.url);
    await page.waitForSelector('body[data-state="signed-out"]');
    if (!((await page.locator('#offline-banner').textContent()) ?? '').includes('Offline mode')) problems.push('no offline banner');
    if ((await page.locator('#host-name').textContent()) !== `(${input.host})`) problems.push(`host shown: ${await page.locator('#host-name').textContent()}`);
    await page.click('#sign-in');
    await page.waitForSelector('input[name="login"]');
    await page.fill('input[name="login"]', 'alice');
    await page.click('button[type="submit"]');
    await page.waitForSelector('form[data-prompt="consent"]');
    await page.click('button[type="submit"]');
    await page.waitForSelector('body[data-state="signed-in"]');
    await page.click('#use-sample-key');
    await page.click('#key-save');
    await page.waitForSelector('#key-status.ok');
    await page.click('#new-chat button[type="submit"]');
    await page.waitForSelector('#composer:not([hidden])');
    await page.fill('#composer-text', input.text);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#messages li[data-live="true"]');
    await page.waitForSelector('body[data-streaming="false"]');
    await page.waitForSelector('#messages li[data-role="assistant"][data-status="complete"]');
    const reply = (await page.locator('#messages li[data-role="assistant"] .body').textContent()) ?? '';
    return { reply, problems };
  } finally {
    await context.close();
  }
}

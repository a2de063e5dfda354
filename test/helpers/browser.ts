import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Test } from 'tap';

/** Debian's chromium: the Playwright browser download does not work on these machines. */
export const CHROMIUM = '/usr/bin/chromium';

/** Where a test run leaves its screenshots for a person to look at (gitignored). */
export const SCREENSHOTS = fileURLToPath(new URL('../../../test-output/screenshots/', import.meta.url));

export async function launchBrowser(t: Test): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  return browser;
}

/** A page whose console errors and failed requests fail nothing but are kept for the report. */
export async function openPage(browser: Browser, viewport = { width: 1440, height: 900 }, t?: Test, name = 'page'): Promise<Page & { problems: string[] }> {
  const context = await browser.newContext({ viewport });
  const page = (await context.newPage()) as Page & { problems: string[] };
  // What the page looked like when a test failed, for the person reading the failure.
  t?.teardown(async () => {
    if (!t.passing() && !page.isClosed()) await screenshot(page, `failed-${name}`).catch(() => {});
  });
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(`console: ${m.text()}`);
  });
  return page;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

import fs from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { Test } from 'tap';
import { DEFAULT_DASHBOARD_DIR } from '../api/dashboard-pages.ts';
import { requireComponent } from './component.ts';

/**
 * Pages in real headless Chromium: Debian's package (`apt-get install -y chromium`), driven by
 * playwright-core. No browser is ever downloaded. Screenshots go to test-output/screenshots (not
 * committed) for a reviewer to look at.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '../test-output/screenshots');

/** Phone (the member view) and lobby screens (1080p, landscape and portrait). */
export const VIEWPORTS = {
  phone: { width: 390, height: 844 },
  lobbyLandscape: { width: 1920, height: 1080 },
  lobbyPortrait: { width: 1080, height: 1920 },
  desktop: { width: 1366, height: 900 },
} as const;

/**
 * Chromium, closed when the test ends; null when it is missing (a loud skip on a laptop, a failure under
 * CI). A dashboard that was not built is always a failure: the test would test nothing.
 */
export async function openBrowser(t: Test): Promise<Browser | null> {
  const dist = process.env.DASHBOARD_DIR ?? DEFAULT_DASHBOARD_DIR;
  if (!fs.existsSync(path.join(dist, 'index.html'))) {
    t.fail(`the dashboard is not built in ${dist}: run npm run build first (npm test does)`);
    return null;
  }
  if (
    !requireComponent(t, fs.existsSync(CHROMIUM), `Chromium at ${CHROMIUM}`, 'apt-get install -y chromium')
  ) {
    return null;
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  t.teardown(() => browser.close());
  return browser;
}

export interface WatchedPage {
  page: Page;
  /** Uncaught exceptions and console errors of the page, to assert there were none. */
  errors: string[];
}

/** A fresh context (own cookies) and page with the given viewport, its errors collected. */
export async function newPage(
  browser: Browser,
  viewport: { width: number; height: number } = VIEWPORTS.desktop,
  options: { locale?: string } = {},
): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport, locale: options.locale ?? 'de-DE' });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  return { page, errors };
}

/** Saves a full-page PNG as test-output/screenshots/<name>.png and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

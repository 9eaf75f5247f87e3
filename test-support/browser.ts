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

/** Who signs in: a demo person, or a member a test made. */
export interface Credentials {
  email: string;
  password: string;
}

/**
 * Signs the page's context in through the API (`POST /api/auth/login` from its own request context, so the
 * session cookie is the page's); a refused sign-in throws.
 */
export async function signInThroughApi(page: Page, httpUrl: string, who: Credentials): Promise<void> {
  const response = await page.request.post(`${httpUrl}/api/auth/login`, {
    data: { email: who.email, password: who.password },
  });
  if (!response.ok()) throw new Error(`sign-in of ${who.email} failed: ${response.status()}`);
}

/** A fresh page (desktop unless told), signed in through the API. */
export async function signedInPage(
  browser: Browser,
  httpUrl: string,
  who: Credentials,
  viewport: { width: number; height: number } = VIEWPORTS.desktop,
): Promise<WatchedPage> {
  const watched = await newPage(browser, viewport);
  await signInThroughApi(watched.page, httpUrl, who);
  return watched;
}

/** Signs in on the member page's form, as a person does (the page shows it: `/`, signed out). */
export async function signInOnPage(page: Page, who: Credentials): Promise<void> {
  await page.getByLabel('E-Mail').fill(who.email);
  await page.getByLabel('Passwort').fill(who.password);
  await page.getByRole('button', { name: 'Anmelden' }).click();
}

/**
 * A phone on the member page (`<httpUrl>/`), signed in through its form; with `now`, the page's clock is fixed
 * at that instant before the page loads.
 */
export async function memberPhone(
  browser: Browser,
  httpUrl: string,
  who: Credentials,
  now?: number,
): Promise<WatchedPage> {
  const watched = await newPage(browser, VIEWPORTS.phone);
  if (now !== undefined) await watched.page.clock.setFixedTime(now);
  await watched.page.goto(`${httpUrl}/`);
  await signInOnPage(watched.page, who);
  return watched;
}

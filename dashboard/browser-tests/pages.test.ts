import t from 'tap';
import { newPage, openBrowser, saveScreenshot, VIEWPORTS } from '../../test-support/browser.ts';
import { startRunningSystem } from '../../test-support/running-system.ts';

// Every page path serves the dashboard, which starts in German and switches to English without errors.
t.test('each page loads in real Chromium, German first, English on request', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const system = await startRunningSystem({ simulation: false });
  t.teardown(() => system.stop());

  const { page, errors } = await newPage(browser, VIEWPORTS.desktop);
  const response = await page.goto(`${system.httpUrl}/`);
  t.equal(response?.status(), 200);
  t.match(response?.headers()['content-security-policy'], /default-src 'self'/);
  await page.locator('.language-switch').waitFor();
  t.equal(await page.getAttribute('html', 'lang'), 'de', 'German by default');
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  t.equal(await page.getAttribute('html', 'lang'), 'en', 'switched to English');
  await page.reload();
  await page.locator('.language-switch').waitFor();
  t.equal(await page.getAttribute('html', 'lang'), 'en', 'the choice is remembered');

  const asset = await page.locator('script[src*="/assets/"]').first().getAttribute('src');
  t.ok(asset, 'the page loads its hashed script');
  const assetResponse = await fetch(new URL(asset ?? '', system.httpUrl));
  t.match(assetResponse.headers.get('cache-control'), /immutable/, 'hashed assets are cached for good');

  const missing = await fetch(`${system.httpUrl}/api/no-such-thing`);
  t.equal(missing.status, 404, 'unknown API paths stay JSON 404s, not the page');
  // Signed out, the page asks /api/me and gets 401: Chromium logs that; anything else is an error.
  t.same(
    errors.filter((e) => !/status of 401/.test(e)),
    [],
    'no errors in the page',
  );
  await saveScreenshot(page, 'home-desktop');

  // The OpenAPI viewer works under its security headers: no script, style or request refused by its policy.
  const docs = await newPage(browser, VIEWPORTS.desktop);
  const docsResponse = await docs.page.goto(`${system.httpUrl}/docs`);
  const headers = docsResponse?.headers() ?? {};
  t.match(headers['content-security-policy'], /frame-ancestors 'none'/, '/docs may not be framed');
  t.equal(headers['x-content-type-options'], 'nosniff');
  await docs.page.locator('.opblock-summary-path', { hasText: '/api/bookings' }).first().waitFor();
  t.same(docs.errors, [], 'Swagger UI renders the API without errors under its policy');
});

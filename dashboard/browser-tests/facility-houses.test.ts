import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { FacilityOverview } from '../../api/facility-overview.ts';
import { readSettings } from '../../cli/settings.ts';
import { loadSites } from '../../cli/sites.ts';
import { openRecords } from '../../database/database.ts';
import { SqliteMemberStore } from '../../members/sqlite-member-store.ts';
import {
  newPage,
  openBrowser,
  saveScreenshot,
  signedInPage,
  signInThroughApi,
  VIEWPORTS,
} from '../../test-support/browser.ts';
import { startRunningSystem } from '../../test-support/running-system.ts';

/**
 * The facility view's site switch in real Chromium, on the running system with SITES_DIR holding two of the
 * demo's houses, both simulated: a facility manager of both switches to the second house and sees its
 * spaces, and its live channel carries that house's readings only; a facility manager of the first house
 * alone gets no switch, and the second house's view refuses them. Nothing here depends on the day or hour:
 * what the page shows is compared with what the API answers at that moment.
 */

const DEMO_NETWORK = path.resolve(import.meta.dirname, '../../simulations/network');
const PASSWORD = 'facility-houses-password-1';

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

t.test('the facility view switches between two houses, its live channel with it', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const sitesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-two-houses-'));
  t.teardown(() => fs.rmSync(sitesDir, { recursive: true, force: true }));
  for (const file of fs.readdirSync(DEMO_NETWORK).sort().slice(0, 2))
    fs.copyFileSync(path.join(DEMO_NETWORK, file), path.join(sitesDir, file));
  const [home, second] = loadSites(readSettings({ SITES_DIR: sitesDir })).sites;
  if (!home || !second) throw new Error('two houses expected');

  const system = await startRunningSystem({ env: { SITES_DIR: sitesDir, SIM_SPEED: '60' } });
  t.teardown(() => system.stop());
  const { httpUrl } = system;

  const records = openRecords(path.join(system.dataDir, 'wesprint.db'));
  try {
    const people = new SqliteMemberStore(records);
    const both = await people.create({
      email: 'beide@haustechnik.example',
      role: 'facility',
      homeSite: home.site.id,
      password: PASSWORD,
    });
    await people.setSiteRole(both.member.id, second.site.id, 'facility');
    await people.create({
      email: 'eins@haustechnik.example',
      role: 'facility',
      homeSite: home.site.id,
      password: PASSWORD,
    });
  } finally {
    records.close();
  }

  // The facility manager of the first house alone: no switch, and the second house refused.
  {
    const { page } = await signedInPage(browser, httpUrl, {
      email: 'eins@haustechnik.example',
      password: PASSWORD,
    });
    await page.goto(`${httpUrl}/facility`);
    await page.locator('article[data-space]').first().waitFor();
    await page.waitForTimeout(1000);
    t.equal(await page.locator('.site-switch').count(), 0, 'one house: no switch');
    const api = await page.request.get(`${httpUrl}/api/network/houses/${second.site.id}/facility/overview`);
    t.equal(api.status(), 403, "the second house's devices: refused");
    await page.goto(`${httpUrl}/facility?site=${second.site.id}`);
    await page.getByRole('alert').filter({ hasText: 'Kein Zugriff' }).waitFor();
    t.equal(await page.locator('article[data-space]').count(), 0, 'no space of the second house shown');
    await page.context().close();
  }

  const { page, errors } = await newPage(browser, VIEWPORTS.desktop);
  // Every frame the page's sockets receive, by the socket's URL.
  const frames: { url: string; message: Record<string, unknown> }[] = [];
  page.on('websocket', (socket) => {
    socket.on('framereceived', (frame) => {
      try {
        frames.push({ url: socket.url(), message: JSON.parse(String(frame.payload)) });
      } catch {}
    });
  });
  await signInThroughApi(page, httpUrl, { email: 'beide@haustechnik.example', password: PASSWORD });
  await page.goto(`${httpUrl}/facility`);
  await page.locator('p.site').filter({ hasText: home.site.name }).waitFor();
  const select = page.locator('.site-switch select');
  await select.waitFor();
  t.same(
    await select.locator('option').allTextContents(),
    [home.site.name, second.site.name],
    'both houses offered',
  );

  await select.selectOption(second.site.id);
  await page.waitForURL((url) => url.searchParams.get('site') === second.site.id);
  await page.locator('p.site').filter({ hasText: second.site.name }).waitFor();
  // A new page: the first house's sockets closed with the one before; from here on, what this one hears.
  frames.length = 0;
  await page.locator('article[data-space]').first().waitFor();
  t.equal(await select.inputValue(), second.site.id, 'the switch names the house shown');
  t.ok(await page.locator('p.other-house').isVisible(), 'says it only shows another house');

  // The tiles are the second house's spaces, as its overview through the network's route has them.
  const overview = (await (
    await page.request.get(`${httpUrl}/api/network/houses/${second.site.id}/facility/overview`)
  ).json()) as FacilityOverview;
  const ownSpaces = new Set(overview.floors.flatMap((f) => f.spaces.map((s) => s.id)));
  const shown = (await page.evaluate(
    `[...document.querySelectorAll('article[data-space]')].map((e) => e.dataset.space)`,
  )) as string[];
  t.ok(shown.length > 0 && shown.every((id) => ownSpaces.has(id)), `only its spaces (${shown.join(', ')})`);
  const homeOnly = home.spaces.map((s) => s.id).filter((id) => !second.spaces.some((s) => s.id === id));
  t.notOk(
    shown.some((id) => homeOnly.includes(id)),
    "none of the first house's",
  );
  t.equal(await page.locator('.controls').count(), 0, 'nothing to switch in another house');

  // Its live channel: readings arrive, every one of the second house, none of the first.
  const houseLive = `/api/network/houses/${second.site.id}/live`;
  await until('live readings of the second house', async () =>
    frames.some((f) => f.url.includes(houseLive) && f.message.type === 'reading') ? true : undefined,
  );
  const readings = frames.filter((f) => f.message.type === 'reading' || f.message.type === 'device-status');
  t.ok(readings.length > 0);
  t.same(
    [...new Set(readings.map((f) => f.message.site))],
    [second.site.id],
    `${readings.length} live messages, all of ${second.site.id}`,
  );
  t.notOk(
    frames.some((f) => new URL(f.url).pathname === '/api/live'),
    "this house's own channel is not open on the other's page",
  );
  // Its alerts: the list is there, fed by that house's own alerts route and channel, with nothing to
  // acknowledge here.
  await page.locator('section.alerts').waitFor();
  const houseAlerts = await page.request.get(`${httpUrl}/api/network/houses/${second.site.id}/alerts`);
  t.equal(houseAlerts.status(), 200, "the second house's alerts through its route");
  t.ok(
    ((await houseAlerts.json()) as { alerts: { site: string }[] }).alerts.every(
      (a) => a.site === second.site.id,
    ),
    'all of the second house',
  );
  t.equal(await page.locator('section.alerts button').count(), 0, 'none acknowledged from another house');
  t.notOk(
    frames.some((f) => new URL(f.url).pathname === '/api/alerts/live'),
    "this house's alerts channel is not open on the other's page",
  );
  await saveScreenshot(page, 'facility-other-house');

  // Back to the first house.
  await select.selectOption(home.site.id);
  await page.waitForURL((url) => !url.searchParams.has('site'));
  await page.locator('p.site').filter({ hasText: home.site.name }).waitFor();
  t.same(
    errors.filter((e) => !/WebSocket/.test(e)),
    [],
    'no page errors',
  );
});

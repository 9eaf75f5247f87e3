import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { BuildingFeed } from '../../building/live-feed.ts';
import { sqliteRecords } from '../../records/records.ts';
import type { SiteConfig } from '../../site/site.ts';
import { siteReadings } from '../../storage/site-view.ts';
import { SqliteStore } from '../../storage/sqlite-store.ts';
import type { StoredReading } from '../../storage/store.ts';
import { testApi } from '../../test-support/api.ts';
import { newPage, openBrowser, saveScreenshot, VIEWPORTS } from '../../test-support/browser.ts';
import { createTestMember, testRecords } from '../../test-support/members.ts';
import { NORD, SUED } from '../../test-support/two-sites.ts';

/**
 * The lobby screen of another house, in real Chromium (issue 11): the API serves Haus Nord (the
 * installation's home site) and knows Haus Süd, in New York. A lobby token made for Süd (`wesprint
 * lobby-token create --site sued`) shows Süd's name, Süd's spaces, Süd's bookings and Süd's air, its clock
 * and times on New York's wall clock, and nothing of Nord: not its name, not its own room, not its booking
 * or reading on the ids both houses have (desk-1, air-1). The API's and the page's clocks are fixed at
 * Monday 1 March 2027, 15:00 UTC: 10:00 in New York, 16:00 in Nord's Berlin.
 */

const NOW = Date.parse('2027-03-01T15:00:00Z');
const MINUTE = 60_000;

/** A meeting room of its own in each house, with an air sensor `air-1` in both. */
function withRoom(house: SiteConfig, room: { id: string; name: string }, topic: string): SiteConfig {
  return {
    ...house,
    spaces: [
      ...house.spaces,
      { id: room.id, name: room.name, floor: 'eg', kind: 'meeting_room', area_m2: 20, bookable: true },
    ],
    devices: [
      ...house.devices,
      { id: 'air-1', profile: 'zigbee2mqtt-air-quality', topic: `zigbee2mqtt/${topic}`, space: room.id },
    ],
  };
}
const nord = withRoom(NORD, { id: 'nordstube', name: 'Nordstube' }, 'nord-air');
const sued = withRoom(
  { ...SUED, site: { ...SUED.site, timezone: 'America/New_York' } },
  { id: 'salon', name: 'Salon Süd' },
  'sued-air',
);

t.test("a lobby token of another house shows that house's lobby, in its time zone", async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-lobby-houses-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  // The network's store: both houses' readings, the same device id in each.
  const all = new SqliteStore({ file: path.join(dir, 'network.db') });
  t.teardown(() => all.close());
  const reading = (site: string, space: string, value: number): StoredReading => ({
    site,
    space,
    device: 'air-1',
    channel: '0',
    quantity: 'co2',
    value,
    unit: 'ppm',
    ts: NOW - 2 * MINUTE,
  });
  await all.write([reading('nord', 'nordstube', 480), reading('sued', 'salon', 2100)]);
  // Not started: the boards come from the store and the bookings.
  const nordFeed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site: nord });
  const suedFeed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site: sued });
  t.teardown(() => nordFeed.close());
  t.teardown(() => suedFeed.close());
  const db = testRecords(t);
  const records = sqliteRecords(db);
  const { app } = await testApi(t, {
    site: nord,
    store: siteReadings(all, 'nord'),
    feed: nordFeed,
    records: db,
    network: { sites: [nord, sued], store: all, feeds: new Map([['sued', suedFeed]]) },
    now: () => NOW,
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });

  // desk-1 is booked in both houses, until 11:15 in New York in Süd and until 18:00 in Berlin in Nord.
  const { member } = await createTestMember(db, { role: 'member' });
  const book = (site: string, end: number) =>
    records
      .bookingsAt(site)
      .create(
        { memberId: member.id, spaceId: 'desk-1', start: NOW - 60 * MINUTE, end },
        NOW - 2 * 60 * MINUTE,
      );
  t.ok((await book('sued', NOW + 75 * MINUTE)).ok);
  t.ok((await book('nord', NOW + 120 * MINUTE)).ok);
  const { token } = await records.lobbyTokens.create('Foyer Süd', NOW, 'sued');

  const { page, errors } = await newPage(browser, VIEWPORTS.lobbyLandscape);
  await page.clock.setFixedTime(NOW);
  await page.goto(`${base}/lobby?token=${token}`);
  await page.getByRole('heading', { name: 'Haus Süd', level: 1 }).waitFor();
  await page.getByText('Live', { exact: true }).waitFor();

  const shown = (await page.evaluate(
    `[...document.querySelectorAll('article[data-space]')].map((e) => e.dataset.space)`,
  )) as string[];
  t.same(shown.sort(), ['desk-1', 'protel-1', 'salon'], "Süd's spaces, its own room among them");
  t.equal(await page.locator('.clock time').textContent(), '10:00', "the clock on New York's wall clock");

  const desk = page.locator('article[data-space="desk-1"]');
  t.equal(await desk.getAttribute('data-status'), 'busy', "Süd's desk-1 is booked");
  t.match(await desk.textContent(), /Belegt bis 11:15/, 'until 11:15 New York time (16:15 UTC)');
  const salon = page.locator('article[data-space="salon"]');
  t.equal(await salon.getAttribute('data-status'), 'free');
  t.match(await salon.textContent(), /Luft schlecht/, "Süd's air-1 reading, 2,100 ppm");

  const text = String(await page.evaluate('document.body.innerText'));
  for (const nordOnly of ['Haus Nord', 'Nordstube', '18:00', '17:00'])
    t.notOk(text.includes(nordOnly), `nothing of Nord: no "${nordOnly}"`);
  await saveScreenshot(page, 'lobby-other-house');

  // This house's token, on the same API: Nord's lobby, on Berlin's clock.
  const own = await records.lobbyTokens.create('Foyer Nord', NOW, 'nord');
  const second = await newPage(browser, VIEWPORTS.lobbyLandscape);
  await second.page.clock.setFixedTime(NOW);
  await second.page.goto(`${base}/lobby?token=${own.token}`);
  await second.page.getByRole('heading', { name: 'Haus Nord', level: 1 }).waitFor();
  t.equal(await second.page.locator('.clock time').textContent(), '16:00', "Nord's clock, Berlin's");
  t.match(
    await second.page.locator('article[data-space="desk-1"]').textContent(),
    /Belegt bis 18:00/,
    "Nord's desk-1 until 18:00 Berlin",
  );
  t.match(await second.page.locator('article[data-space="nordstube"]').textContent(), /Luft gut/);
  t.equal(await second.page.locator('article[data-space="salon"]').count(), 0, "no room of Süd's");

  t.same([...errors, ...second.errors], [], 'no page errors');
});

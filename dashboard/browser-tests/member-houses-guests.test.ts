import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Identity } from '../../members/identity.ts';
import { SqliteMemberStore } from '../../members/sqlite-member-store.ts';
import { sqliteRecords } from '../../records/records.ts';
import type { SiteConfig } from '../../site/site.ts';
import { SqliteStore } from '../../storage/sqlite-store.ts';
import { testApi } from '../../test-support/api.ts';
import { memberPhone, newPage, openBrowser, saveScreenshot, VIEWPORTS } from '../../test-support/browser.ts';
import { testRecords } from '../../test-support/members.ts';
import { house, NORD, openingLocks } from '../../test-support/two-sites.ts';

/**
 * Guest keys and events in another house, on a phone (issue 11): Ada, a member of Haus Nord (Berlin), has
 * booked the Protel room of Haus Ost (Lisbon, an hour behind); on her page she gives a guest key for it and
 * makes it a public event, both in Ost. The key's tap opens Ost's lock, not Nord's of the same id; her events
 * show the date with Ost's name at Ost's time. The API's and the page's clocks are fixed at Monday 1 March
 * 2027, 10:00 Berlin; the locks' channels answer at once.
 */

const NOW = Date.parse('2027-03-01T09:00:00Z');
const PASSWORD = 'member-houses-guests-password-1';
const OST_BASE = house('sued', 'C3C3C3');
const ost: SiteConfig = {
  ...OST_BASE,
  site: { id: 'ost', name: 'Haus Ost', timezone: 'Europe/Lisbon' },
  guests: [{ from: ['nord'], kinds: ['desk', 'protel'] }],
};

t.test('a member of Nord gives a guest key and makes an event of her booking in Ost', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-member-houses-guests-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const all = new SqliteStore({ file: path.join(dir, 'network.db') });
  t.teardown(() => all.close());
  const records = testRecords(t);
  // Sessions on the process's clock, which is Chromium's too (see member-series.test.ts).
  const identity = new Identity(records, { site: { id: 'nord' } });
  const opened: string[] = [];
  let clock = NOW;
  const { app } = await testApi(t, {
    site: NORD,
    records,
    identity,
    now: () => clock,
    lockCommands: openingLocks('nord', opened),
    network: {
      sites: [NORD, ost],
      store: all,
      lockCommands: new Map([['ost', openingLocks('ost', opened)]]),
    },
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const ada = await new SqliteMemberStore(records).create({
    email: 'ada@nord.example',
    name: 'Ada',
    role: 'member',
    homeSite: 'nord',
    password: PASSWORD,
  });
  // Ost's Protel 1 from 14:00 to 16:00 Ost time (15:00-17:00 in Berlin).
  const start = Date.parse('2027-03-01T14:00:00Z');
  const stores = sqliteRecords(records);
  const booked = await stores
    .bookingsAt('ost')
    .create({ memberId: ada.member.id, spaceId: 'protel-1', start, end: start + 2 * 3_600_000 }, NOW);
  if (!booked.ok) throw new Error('booking refused');

  const { page, errors } = await memberPhone(
    browser,
    base,
    { email: 'ada@nord.example', password: PASSWORD },
    NOW,
  );

  const booking = page.getByRole('list', { name: 'Heute' }).locator('li.booking[data-site="ost"]');
  await booking.getByText('Haus Ost', { exact: true }).waitFor();
  t.match(await booking.locator('.when').textContent(), /14:00.16:00/, "at Ost's time");

  // The guest key, given in Ost.
  await booking.getByRole('button', { name: /^Gastschlüssel für Protel 1 am / }).click();
  const link = await booking.getByRole('textbox', { name: /^Gastschlüssel für Protel 1 am / }).inputValue();
  t.match(link, new RegExp(`^${base}/key#[A-Za-z0-9_-]{32}$`), 'the link, shown once');
  const keys = page.getByRole('region', { name: 'Deine Gastschlüssel' });
  await keys.locator('li[data-site="ost"]').getByText('Protel 1 (Haus Ost)', { exact: false }).waitFor();
  t.match(
    await keys.locator('li[data-site="ost"]').textContent(),
    /13:50.16:00/,
    "from the grace before, Ost's time",
  );
  await saveScreenshot(page, 'member-houses-guest-key');

  // The guest's tap during the booking opens Ost's lock, not Nord's Protel 1.
  clock = start + 5 * 60_000;
  const guest = await newPage(browser, VIEWPORTS.phone);
  await guest.page.clock.setFixedTime(clock);
  await guest.page.goto(link);
  await guest.page.getByText('Haus Ost', { exact: false }).first().waitFor();
  await guest.page.getByRole('button', { name: /öffnen/i }).click();
  await guest.page.getByText(/offen/i).first().waitFor();
  t.same(opened, ['ost/lock-1'], "Ost's lock");
  const unlocks = (await stores.audit.query({ action: 'unlock', actor: ada.member.id })).entries;
  t.match(
    unlocks.map((e) => [e.decision, e.reason, e.detail.site]),
    [['granted', 'guest_key', 'ost']],
    'audited with Ost',
  );
  t.same(guest.errors, [], 'no errors on the key page');
  await guest.page.context().close();
  clock = NOW;

  // The event, made in Ost.
  await booking.getByRole('button', { name: /^Veranstaltung aus Protel 1 am / }).click();
  const form = booking.getByRole('form', { name: /^Veranstaltung in Protel 1, / });
  await form.getByLabel('Titel').fill('Reparaturcafé');
  await form.getByRole('button', { name: 'Veranstaltung anlegen' }).click();
  await page.getByText('Veranstaltung „Reparaturcafé“ angelegt.', { exact: false }).waitFor();
  await booking.getByText('Veranstaltung: Reparaturcafé').waitFor();
  const mine = page.getByRole('region', { name: 'Meine Veranstaltungen' });
  const date = mine.locator('li.date[data-site="ost"]');
  await date.getByText('Haus Ost', { exact: false }).waitFor();
  t.match(await date.locator('.when').textContent(), /14:00.16:00/, "the organiser's date at Ost's time");
  await saveScreenshot(page, 'member-houses-event');

  const listed = await app.inject({ method: 'GET', url: '/api/public/events?site=ost' });
  t.match(
    listed.json().dates,
    [{ title: 'Reparaturcafé', siteId: 'ost', siteName: 'Haus Ost', start: new Date(start).toISOString() }],
    "listed as Ost's",
  );
  t.same(
    errors.filter((e) => !e.includes('401 (Unauthorized)')),
    [],
    'no errors on the page (but its question who is signed in, before the sign-in)',
  );
});

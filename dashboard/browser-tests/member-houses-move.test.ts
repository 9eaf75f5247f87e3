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
import { memberPhone, openBrowser, saveScreenshot } from '../../test-support/browser.ts';
import { signIn, testRecords } from '../../test-support/members.ts';
import { NORD, SUED } from '../../test-support/two-sites.ts';

/**
 * Moving and series in another house of the network, on a phone (issue 11). Ada, a member of Haus Nord
 * (Berlin), has a Protel room booked in Haus Süd, which here is in New York. She chooses Süd on her page,
 * moves that booking to the afternoon on Süd's clock, books a series of Thursdays there across New York's
 * spring change (14 March 2027; Berlin's is on the 28th), changes it from its second date on and ends it.
 * The API's and the page's clocks are fixed at Monday 1 March 2027, 10:00 Berlin (04:00 in New York).
 */

const NOW = Date.parse('2027-03-01T09:00:00Z');
const PASSWORD = 'member-houses-move-password-1';
const nord: SiteConfig = { ...NORD, guests: [{ from: ['sued'], kinds: ['desk'] }] };
const sued: SiteConfig = {
  ...SUED,
  site: { ...SUED.site, timezone: 'America/New_York' },
  guests: [{ from: ['*'], kinds: ['desk', 'protel'] }],
};
const iso = (ms: number | undefined) => new Date(ms ?? 0).toISOString();

t.test('a member of Nord moves a booking and books and changes a series in Süd', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-member-houses-move-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const all = new SqliteStore({ file: path.join(dir, 'network.db') });
  t.teardown(() => all.close());
  const records = testRecords(t);
  // Sessions on the process's clock, which is Chromium's too (see member-series.test.ts).
  const identity = new Identity(records, { site: { id: 'nord' } });
  const { app } = await testApi(t, {
    site: nord,
    records,
    identity,
    now: () => NOW,
    network: { sites: [nord, sued], store: all },
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const ada = await new SqliteMemberStore(records).create({
    email: 'ada@nord.example',
    name: 'Ada',
    role: 'member',
    homeSite: 'nord',
    password: PASSWORD,
  });
  // Wednesday 3 March, 10:00–11:00 in New York (15:00–16:00 UTC).
  const booked = await app.inject({
    method: 'POST',
    url: '/api/houses/sued/bookings',
    headers: { cookie: await signIn(app, 'ada@nord.example', PASSWORD) },
    payload: { spaceId: 'protel-1', start: '2027-03-03T10:00-05:00', end: '2027-03-03T11:00-05:00' },
  });
  t.equal(booked.statusCode, 201, booked.body);
  const bookingId = booked.json().id as string;
  const sueds = sqliteRecords(records).bookingsAt('sued');

  const { page, errors } = await memberPhone(
    browser,
    base,
    { email: 'ada@nord.example', password: PASSWORD },
    NOW,
  );
  const houseSelect = page.getByLabel('In welchem Haus?');
  await houseSelect.waitFor();
  await houseSelect.selectOption('sued');
  await page.locator('header .site', { hasText: 'Haus Süd' }).waitFor();

  // The move, on Süd's clock: the form starts at 10:00 New York time.
  const list = page.locator('section', { has: page.getByRole('heading', { name: 'Meine Buchungen' }) });
  const item = list.locator(`li.booking[data-booking="${bookingId}"][data-site="sued"]`);
  await item.locator('.when', { hasText: '10:00–11:00' }).waitFor();
  await item.getByRole('button', { name: /^Protel 1 am .* verschieben$/ }).click();
  const form = item.getByRole('form', { name: /^Protel 1, .*10:00–11:00 verschieben$/ });
  await form.waitFor();
  t.equal(await form.getByLabel('Tag').inputValue(), '2027-03-03');
  await form.getByLabel('Von').locator('option', { hasText: '14:00' }).waitFor({ state: 'attached' });
  await form.getByLabel('Von').selectOption({ label: '14:00' });
  await form.getByRole('button', { name: 'Hierhin verschieben' }).click();
  await list.getByText(/^Verschoben: Protel 1, .*14:00–15:00\.$/).waitFor();
  await item.locator('.when', { hasText: '14:00–15:00' }).waitFor();
  const moved = await sueds.get(bookingId);
  t.same(
    [iso(moved?.start), iso(moved?.end)],
    ['2027-03-03T19:00:00.000Z', '2027-03-03T20:00:00.000Z'],
    "moved in Süd's bookings to 14:00 New York time",
  );
  await saveScreenshot(page, 'member-houses-moved');

  // A series in Süd: Thursdays 10:00–11:00 New York, across its change to summer time on 14 March.
  const card = page.locator('section', { has: page.getByRole('heading', { name: 'Regelmäßig buchen' }) });
  await card.getByLabel('Raum').selectOption('protel-1');
  await card.getByLabel('Erster Termin').fill('2027-03-11');
  await card.getByLabel('Beginn').fill('10:00');
  await card.getByLabel('Ende', { exact: true }).fill('11:00');
  await card.getByLabel('Anzahl Termine', { exact: true }).fill('3');
  await card.getByRole('button', { name: 'Termine prüfen' }).click();
  const dates = card.getByRole('list', { name: '3 Termine' }).locator('li');
  await dates.first().waitFor();
  t.same(await dates.evaluateAll((items) => items.map((i) => i.getAttribute('data-occurrence'))), [
    '2027-03-11T10:00',
    '2027-03-18T10:00',
    '2027-03-25T10:00',
  ]);
  for (let i = 0; i < 3; i++)
    t.match(await dates.nth(i).textContent(), /10:00–11:00: frei/, "each date at 10:00 on Süd's clock");
  await card.getByRole('button', { name: 'Serie buchen' }).click();
  await card.getByText('Serie gebucht: Protel 1, 3 Termine.').waitFor();
  const series = (await sueds.listMine(ada.member.id)).filter((b) => b.seriesId);
  t.same(
    series.map((b) => [b.occurrence, iso(b.start)]),
    [
      ['2027-03-11T10:00', '2027-03-11T15:00:00.000Z'],
      ['2027-03-18T10:00', '2027-03-18T14:00:00.000Z'],
      ['2027-03-25T10:00', '2027-03-25T14:00:00.000Z'],
    ],
    "Süd's series, 10:00 New York before and after its change",
  );
  t.same(await sqliteRecords(records).bookingsAt('nord').listMine(ada.member.id), [], 'nothing in Nord');
  const seriesItems = list.locator('li.booking[data-site="sued"]', { hasText: 'Serie' });
  await seriesItems.nth(2).waitFor();
  await saveScreenshot(page, 'member-houses-series');

  // Changed from 18 March on: 12:00–13:00 New York.
  await houseSelect.selectOption('nord');
  await page.locator('header .site', { hasText: 'Haus Nord' }).waitFor();
  await seriesItems
    .nth(1)
    .getByRole('button', { name: /Serie ab .* ändern/ })
    .click();
  await page.locator('header .site', { hasText: 'Haus Süd' }).waitFor();
  t.equal(await houseSelect.inputValue(), 'sued', "the page turns to the series' house");
  const change = page.locator('section', {
    has: page.getByRole('heading', { name: /^Serie ab .* ändern$/ }),
  });
  t.equal(await change.getByLabel('Erster Termin').inputValue(), '2027-03-18');
  t.equal(await change.getByLabel('Beginn').inputValue(), '10:00', "its time on Süd's clock");
  await change.getByLabel('Beginn').fill('12:00');
  await change.getByLabel('Ende', { exact: true }).fill('13:00');
  await change.getByLabel('Anzahl Termine', { exact: true }).fill('2');
  await change.getByRole('button', { name: 'Termine prüfen' }).click();
  await change.getByText('Alle Termine sind frei.').waitFor();
  await change.getByRole('button', { name: 'Serie ab hier ändern' }).click();
  await page.getByText(/^Serie geändert: Protel 1, 2 neue Termine ab /).waitFor();
  await list.locator('li.booking[data-site="sued"]', { hasText: '12:00–13:00' }).nth(1).waitFor();
  const after = (await sueds.listMine(ada.member.id)).filter((b) => b.seriesId && b.status === 'booked');
  t.same(
    after.map((b) => [b.occurrence, iso(b.start)]),
    [
      ['2027-03-11T10:00', '2027-03-11T15:00:00.000Z'],
      ['2027-03-18T12:00', '2027-03-18T16:00:00.000Z'],
      ['2027-03-25T12:00', '2027-03-25T16:00:00.000Z'],
    ],
    'the first date stays, the rest at 12:00 New York',
  );

  // The rest ended from 25 March, in Süd.
  const last = list.locator('li.booking[data-site="sued"]', { hasText: '12:00–13:00' }).nth(1);
  await last.locator('button.cancel-rest').click();
  await list.getByRole('button', { name: 'Ja, alle folgenden stornieren' }).click();
  await list.getByText('Serie Protel 1: 1 Termine storniert.').waitFor();
  t.equal((await sueds.get(after[2]?.id ?? ''))?.status, 'cancelled');
  // The one 401 is the page asking who is signed in before she is.
  t.same(
    errors.filter((e) => !/status of 401/.test(e)),
    [],
    'no errors in the page',
  );
});

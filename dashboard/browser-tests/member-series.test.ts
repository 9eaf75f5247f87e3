import t from 'tap';
import { SqliteBookingStore } from '../../bookings/sqlite-booking-store.ts';
import { Identity } from '../../members/identity.ts';
import { testApi } from '../../test-support/api.ts';
import { memberPhone, openBrowser, saveScreenshot } from '../../test-support/browser.ts';
import { createTestMember, signIn, testRecords } from '../../test-support/members.ts';
import { buildingWithHall } from '../../test-support/small-building.ts';

/**
 * A series booked on a phone: the open evening on the last Thursday of the month, starting on New Year's
 * Eve 2026 (December has five Thursdays), one date already taken by someone else. The member sees every
 * date before booking, chooses to leave the taken one out, then cancels the rest of the series from a
 * date on. The API's clock and the page's clock are both fixed at Sunday 13 December 2026, 22:50 Berlin.
 */

const NOW = Date.parse('2026-12-13T21:50:00Z');
const expectedRefusal = /Failed to load resource: the server responded with a status of (401|409)/;

t.test('member books a monthly series, sees the conflict first, skips it, cancels the rest', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const site = buildingWithHall();
  // Sessions on the process's clock, which is Chromium's too: a cookie expiring 12 h after the API's fixed
  // instant would be expired already for a browser run under faketime months later.
  const records = testRecords(t);
  const identity = new Identity(records, { site: { id: site.site.id } });
  const { app } = await testApi(t, { site, records, identity, now: () => NOW });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const ada = await createTestMember(records, { role: 'member', name: 'Ada' });
  const bob = await createTestMember(records, { role: 'member', name: 'Bob' });
  // Bob holds 28 January 2027, 18:30-19:30: the second last Thursday's evening.
  const held = await app.inject({
    method: 'POST',
    url: '/api/bookings',
    headers: { cookie: await signIn(app, bob.member.email, bob.password) },
    payload: { spaceId: 'hall', start: '2027-01-28T18:30+01:00', end: '2027-01-28T19:30+01:00' },
  });
  t.equal(held.statusCode, 201, held.body);

  const { page, errors } = await memberPhone(
    browser,
    base,
    { email: ada.member.email, password: ada.password },
    NOW,
  );

  const card = page.locator('section', { has: page.getByRole('heading', { name: 'Regelmäßig buchen' }) });
  await card.waitFor();
  await card.getByLabel('Raum').selectOption('hall');
  await card.getByLabel('Erster Termin').fill('2026-12-31');
  const repeat = card.getByLabel('Wiederholung');
  t.same(
    await repeat.locator('option').allTextContents(),
    ['Jede Woche am Donnerstag', 'Alle 2 Wochen am Donnerstag', 'Jeden letzten Donnerstag im Monat'],
    'the 31st is a fifth Thursday: only "last" is offered for the month',
  );
  await repeat.selectOption('month_last');
  await card.getByLabel('Beginn').fill('18:00');
  await card.getByLabel('Ende', { exact: true }).fill('20:00');
  await card.getByLabel('Anzahl Termine', { exact: true }).fill('4');
  await card.getByRole('button', { name: 'Termine prüfen' }).click();

  const dates = card.getByRole('list', { name: '4 Termine' }).locator('li');
  await dates.first().waitFor();
  t.same(await dates.evaluateAll((items) => items.map((i) => i.getAttribute('data-occurrence'))), [
    '2026-12-31T18:00',
    '2027-01-28T18:00',
    '2027-02-25T18:00',
    '2027-03-25T18:00',
  ]);
  t.match(
    await dates.nth(1).textContent(),
    /belegt \(18:30–19:30\)/,
    'the taken date and the time in its way',
  );
  t.match(await dates.nth(0).textContent(), /frei/);
  t.notOk((await card.textContent())?.includes('Bob'), 'nobody named');
  await saveScreenshot(page, 'member-series-preview');

  t.equal(
    await card.getByRole('button', { name: 'Serie buchen' }).count(),
    0,
    'no all-at-once button with a conflict',
  );
  await card.getByRole('button', { name: '3 Termine buchen, 1 belegte auslassen' }).click();
  await card.getByText(/Serie gebucht: Diskursraum, 3 Termine\. Ausgelassen, weil belegt: .*28/).waitFor();

  const list = page.locator('section', { has: page.getByRole('heading', { name: 'Meine Buchungen' }) });
  // The list shows the next weeks: New Year's Eve is there, marked as a date of a series.
  await list.locator('li.booking', { hasText: 'Serie' }).first().waitFor();

  // Every second Friday 11:00-12:00 from 18 December, four dates, all free: booked at once.
  await card.getByLabel('Erster Termin').fill('2026-12-18');
  await card.getByLabel('Wiederholung').selectOption('weeks');
  await card.getByLabel('Alle wie viele Wochen').fill('2');
  await card.getByLabel('Beginn').fill('11:00');
  await card.getByLabel('Ende', { exact: true }).fill('12:00');
  await card.getByRole('button', { name: 'Termine prüfen' }).click();
  await card.getByText('Alle Termine sind frei.').waitFor();
  await card.getByRole('button', { name: 'Serie buchen' }).click();
  await card.getByText('Serie gebucht: Diskursraum, 4 Termine.').waitFor();
  const fridays = list.locator('li.booking', { hasText: '11:00–12:00' });
  await fridays.nth(3).waitFor();
  t.equal(await fridays.count(), 4);

  // One date cancelled (1 January), then the rest from 15 January on.
  await fridays.nth(1).locator('button.cancel').click();
  await list.getByRole('button', { name: 'Ja, stornieren' }).click();
  await list.getByText('Buchung Diskursraum storniert.').waitFor();
  await page.waitForFunction("document.querySelectorAll('li.booking').length === 4");
  await fridays.nth(1).locator('button.cancel-rest').click();
  await list.getByRole('button', { name: 'Ja, alle folgenden stornieren' }).click();
  await list.getByText('Serie Diskursraum: 2 Termine storniert.').waitFor();
  await page.waitForFunction("document.querySelectorAll('li.booking').length === 2");

  const store = new SqliteBookingStore(records, site.site.id);
  const mine = await store.listMine(ada.member.id);
  t.same(
    mine.map((b) => [b.occurrence, b.status]),
    [
      ['2026-12-18T11:00', 'booked'],
      ['2026-12-31T18:00', 'booked'],
      ['2027-01-01T11:00', 'cancelled'],
      ['2027-01-15T11:00', 'cancelled'],
      ['2027-01-29T11:00', 'cancelled'],
      ['2027-02-25T18:00', 'booked'],
      ['2027-03-25T18:00', 'booked'],
    ],
  );
  await saveScreenshot(page, 'member-series-after');

  // English on request.
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await page.getByRole('heading', { name: 'Book a series' }).waitFor();
  t.equal(await page.getByRole('button', { name: 'Check dates' }).count(), 1);
  t.same(
    errors.filter((e) => !expectedRefusal.test(e)),
    [],
    'no errors in the page',
  );
});

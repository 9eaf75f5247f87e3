import t from 'tap';
import { SqliteBookingStore } from '../../bookings/sqlite-booking-store.ts';
import { Identity } from '../../members/identity.ts';
import { testApi } from '../../test-support/api.ts';
import { memberPhone, openBrowser, saveScreenshot } from '../../test-support/browser.ts';
import { createTestMember, signIn, testRecords } from '../../test-support/members.ts';
import { buildingWithHall } from '../../test-support/small-building.ts';

/**
 * A series changed from a date on, on a phone. Ada's Friday meeting (11:00-12:00 from 19 March 2027, five
 * dates, across the spring change on 28 March) moves from 26 March on to Thursday evenings in April, which
 * has five Thursdays; Bob holds one of them, so she sees the conflict first and leaves it out. Then, from the
 * fifth Thursday (29 April) on, it becomes the last Thursday of the month, the only monthly choice that date
 * has. The dates before each change stay as they were. The API's and the page's clocks are fixed at Sunday
 * 14 March 2027, 10:00 Berlin (the member's list shows the next 62 days).
 */

const NOW = Date.parse('2027-03-14T09:00:00Z');
const expectedRefusal = /Failed to load resource: the server responded with a status of (401|409)/;

t.test(
  'member changes a series from a date on: sees the new dates first, the earlier ones stay',
  async (t) => {
    const browser = await openBrowser(t);
    if (!browser) return;
    const site = buildingWithHall();
    const records = testRecords(t);
    const identity = new Identity(records, { site: { id: site.site.id } });
    const { app } = await testApi(t, { site, records, identity, now: () => NOW });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const ada = await createTestMember(records, { role: 'member', name: 'Ada' });
    const bob = await createTestMember(records, { role: 'member', name: 'Bob' });
    const series = await app.inject({
      method: 'POST',
      url: '/api/booking-series',
      headers: { cookie: await signIn(app, ada.member.email, ada.password) },
      payload: {
        spaceId: 'hall',
        firstDate: '2027-03-19',
        start: '11:00',
        end: '12:00',
        every: 'week',
        count: 5,
        onConflict: 'refuse',
      },
    });
    t.equal(series.statusCode, 201, series.body);
    const old = series.json().series as { id: string; bookings: Array<{ id: string; occurrence: string }> };
    const from = old.bookings.find((b) => b.occurrence === '2027-03-26T11:00');
    if (!from) throw new Error('no date on 26 March');
    // Bob holds Thursday 22 April, 18:30-19:30.
    const held = await app.inject({
      method: 'POST',
      url: '/api/bookings',
      headers: { cookie: await signIn(app, bob.member.email, bob.password) },
      payload: { spaceId: 'hall', start: '2027-04-22T18:30+02:00', end: '2027-04-22T19:30+02:00' },
    });
    t.equal(held.statusCode, 201, held.body);

    const { page, errors } = await memberPhone(
      browser,
      base,
      { email: ada.member.email, password: ada.password },
      NOW,
    );

    const list = page.locator('section', { has: page.getByRole('heading', { name: 'Meine Buchungen' }) });
    const fromItem = list.locator(`li.booking[data-booking="${from.id}"]`);
    await fromItem.getByRole('button', { name: /Serie ab .* ändern/ }).click();
    const card = page.locator('section', {
      has: page.getByRole('heading', { name: /^Serie ab .* ändern$/ }),
    });
    await card.waitFor();
    t.equal(await card.getByLabel('Raum').inputValue(), 'hall', 'the form starts on the date: its room');
    t.equal(await card.getByLabel('Erster Termin').inputValue(), '2027-03-26');
    t.equal(await card.getByLabel('Beginn').inputValue(), '11:00');
    t.equal(await card.getByLabel('Ende', { exact: true }).inputValue(), '12:00');

    // Thursdays 18:00-20:00 from 1 April until 30 April.
    await card.getByLabel('Erster Termin').fill('2027-04-01');
    await card.getByLabel('Beginn').fill('18:00');
    await card.getByLabel('Ende', { exact: true }).fill('20:00');
    await card.getByLabel('Wiederholung').selectOption('week');
    await card.getByLabel('an einem Datum').check();
    await card.getByLabel('Letzter Termin am').fill('2027-04-30');
    await card.getByRole('button', { name: 'Termine prüfen' }).click();

    const dates = card.getByRole('list', { name: '5 Termine' }).locator('li');
    await dates.first().waitFor();
    t.same(
      await dates.evaluateAll((items) => items.map((i) => i.getAttribute('data-occurrence'))),
      ['2027-04-01T18:00', '2027-04-08T18:00', '2027-04-15T18:00', '2027-04-22T18:00', '2027-04-29T18:00'],
      'April 2027 has five Thursdays',
    );
    t.match(
      await dates.nth(3).textContent(),
      /belegt \(18:30–19:30\)/,
      'the taken date and the time in its way',
    );
    await card.getByText(/Entfallen: 4 bisherige Termine ab/).waitFor();
    t.notOk((await card.textContent())?.includes('Bob'), 'nobody named');
    t.equal(
      await card.getByRole('button', { name: 'Serie ab hier ändern' }).count(),
      0,
      'no all-at-once button with a conflict',
    );
    await saveScreenshot(page, 'member-series-change-preview');
    await card.getByRole('button', { name: 'Ändern: 4 Termine, 1 belegte auslassen' }).click();
    await page
      .getByText(/Serie geändert: Diskursraum, 4 neue Termine ab .*Ausgelassen, weil belegt: .*22/)
      .waitFor();
    await page.getByRole('heading', { name: 'Regelmäßig buchen' }).waitFor();

    const store = new SqliteBookingStore(records, site.site.id);
    const afterFirst = await store.listMine(ada.member.id);
    t.same(
      afterFirst.map((b) => [b.occurrence, b.status]),
      [
        ['2027-03-19T11:00', 'booked'],
        ['2027-03-26T11:00', 'cancelled'],
        ['2027-04-01T18:00', 'booked'],
        ['2027-04-02T11:00', 'cancelled'],
        ['2027-04-08T18:00', 'booked'],
        ['2027-04-09T11:00', 'cancelled'],
        ['2027-04-15T18:00', 'booked'],
        ['2027-04-16T11:00', 'cancelled'],
        ['2027-04-29T18:00', 'booked'],
      ],
      'the dates before 26 March untouched; Thursdays from 1 April, the taken one left out',
    );
    t.equal(
      (await store.getSeries(old.id))?.rrule,
      'FREQ=WEEKLY;INTERVAL=1;BYDAY=FR;UNTIL=20270319T100000Z',
      'the old rule ends before 26 March',
    );
    const fifth = afterFirst.find((b) => b.occurrence === '2027-04-29T18:00');
    if (!fifth) throw new Error('no date on 29 April');
    t.equal(
      new Date(fifth.start).toISOString(),
      '2027-04-29T16:00:00.000Z',
      '18:00 in Berlin after the change',
    );

    // From the fifth Thursday on: the last Thursday of the month, 19:00-21:00, three dates.
    await list
      .locator(`li.booking[data-booking="${fifth.id}"]`)
      .getByRole('button', { name: /Serie ab .* ändern/ })
      .click();
    await card.waitFor();
    t.equal(await card.getByLabel('Erster Termin').inputValue(), '2027-04-29');
    t.equal(await card.getByLabel('Ende', { exact: true }).inputValue(), '20:00');
    t.same(
      await card.getByLabel('Wiederholung').locator('option').allTextContents(),
      ['Jede Woche am Donnerstag', 'Alle 2 Wochen am Donnerstag', 'Jeden letzten Donnerstag im Monat'],
      'the 29th is a fifth Thursday: only "last" is offered for the month',
    );
    await card.getByLabel('Wiederholung').selectOption('month_last');
    await card.getByLabel('Beginn').fill('19:00');
    await card.getByLabel('Ende', { exact: true }).fill('21:00');
    await card.getByLabel('nach einer Anzahl Termine').check();
    await card.getByLabel('Anzahl Termine', { exact: true }).fill('3');
    await card.getByRole('button', { name: 'Termine prüfen' }).click();
    const monthly = card.getByRole('list', { name: '3 Termine' }).locator('li');
    await monthly.first().waitFor();
    t.same(await monthly.evaluateAll((items) => items.map((i) => i.getAttribute('data-occurrence'))), [
      '2027-04-29T19:00',
      '2027-05-27T19:00',
      '2027-06-24T19:00',
    ]);
    await card.getByText('Alle Termine sind frei.').waitFor();
    await card.getByRole('button', { name: 'Serie ab hier ändern' }).click();
    await page.getByText(/Serie geändert: Diskursraum, 3 neue Termine ab/).waitFor();
    const afterSecond = await store.listMine(ada.member.id);
    t.same(
      afterSecond.filter((b) => b.status === 'booked').map((b) => b.occurrence),
      [
        '2027-03-19T11:00',
        '2027-04-01T18:00',
        '2027-04-08T18:00',
        '2027-04-15T18:00',
        '2027-04-29T19:00',
        '2027-05-27T19:00',
        '2027-06-24T19:00',
      ],
    );
    await saveScreenshot(page, 'member-series-change-after');

    // English on request: the same button.
    await page.getByRole('button', { name: 'EN', exact: true }).click();
    await page.getByRole('heading', { name: 'Book a series' }).waitFor();
    await page
      .getByRole('button', { name: /Diskursraum: change the series from/ })
      .first()
      .waitFor();
    t.ok((await page.getByText('Change from this date on').count()) > 0);
    t.same(
      errors.filter((e) => !expectedRefusal.test(e)),
      [],
      'no errors in the page',
    );
  },
);

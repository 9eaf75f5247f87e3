import t from 'tap';
import { SqliteBookingStore } from '../../bookings/sqlite-booking-store.ts';
import { Identity } from '../../members/identity.ts';
import { testApi } from '../../test-support/api.ts';
import { memberPhone, openBrowser, saveScreenshot } from '../../test-support/browser.ts';
import { createTestMember, signIn, testRecords } from '../../test-support/members.ts';
import { buildingWithHall } from '../../test-support/small-building.ts';

/**
 * Moving a booking on a phone. Ada's Friday meeting (11:00-12:00, three dates from 19 March 2027) moves on
 * 2 April, after the spring change, to the afternoon; the other dates stay. Bob takes 13:00 while her form is
 * open, so her first choice is refused with the time in its way, and the booking stays until she picks a
 * free time. Then her single booking on Tuesday moves to Wednesday. The API's and the page's clocks are
 * fixed at Sunday 14 March 2027, 10:00 Berlin.
 */

const NOW = Date.parse('2027-03-14T09:00:00Z');
const expectedRefusal = /Failed to load resource: the server responded with a status of (401|409)/;

t.test('member moves one date of a series and a single booking; a taken time is refused', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const site = buildingWithHall();
  // Sessions on the process's clock, which is Chromium's too (see member-series.test.ts).
  const records = testRecords(t);
  const identity = new Identity(records, { site: { id: site.site.id } });
  const { app } = await testApi(t, { site, records, identity, now: () => NOW });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const ada = await createTestMember(records, { role: 'member', name: 'Ada' });
  const bob = await createTestMember(records, { role: 'member', name: 'Bob' });
  const adaCookie = await signIn(app, ada.member.email, ada.password);
  const series = await app.inject({
    method: 'POST',
    url: '/api/booking-series',
    headers: { cookie: adaCookie },
    payload: {
      spaceId: 'hall',
      firstDate: '2027-03-19',
      start: '11:00',
      end: '12:00',
      every: 'week',
      count: 3,
      onConflict: 'refuse',
    },
  });
  t.equal(series.statusCode, 201, series.body);
  const dates = series.json().series.bookings as Array<{ id: string; occurrence: string }>;
  const april = dates.find((b) => b.occurrence === '2027-04-02T11:00');
  if (!april) throw new Error('no date on 2 April');
  const single = await app.inject({
    method: 'POST',
    url: '/api/bookings',
    headers: { cookie: adaCookie },
    payload: { spaceId: 'hall', start: '2027-03-16T10:00+01:00', end: '2027-03-16T12:00+01:00' },
  });
  t.equal(single.statusCode, 201, single.body);
  const singleId = single.json().id as string;
  t.type(singleId, 'string', 'the single booking has an id');

  const { page, errors } = await memberPhone(
    browser,
    base,
    { email: ada.member.email, password: ada.password },
    NOW,
  );

  const list = page.locator('section', { has: page.getByRole('heading', { name: 'Meine Buchungen' }) });
  const aprilItem = list.locator(`li.booking[data-booking="${april.id}"]`);
  await aprilItem.getByRole('button', { name: /^Diskursraum am .* verschieben$/ }).click();
  const form = aprilItem.getByRole('form', { name: /^Diskursraum, .*11:00–12:00 verschieben$/ });
  await form.waitFor();
  t.equal(await form.getByLabel('Tag').inputValue(), '2027-04-02', 'the form starts on the date');
  const startSelect = form.getByLabel('Von');
  await startSelect.locator('option', { hasText: '13:00' }).waitFor({ state: 'attached' });
  t.equal(await selectedText(startSelect), '11:00', 'its own start first');
  t.equal(await selectedText(form.getByLabel('Bis')), '12:00');
  t.equal(await form.getByRole('button', { name: 'Hierhin verschieben' }).isDisabled(), true, 'unchanged');

  // Bob takes 13:00-14:00 while the form is open.
  const held = await app.inject({
    method: 'POST',
    url: '/api/bookings',
    headers: { cookie: await signIn(app, bob.member.email, bob.password) },
    payload: { spaceId: 'hall', start: '2027-04-02T13:00+02:00', end: '2027-04-02T14:00+02:00' },
  });
  t.equal(held.statusCode, 201, held.body);
  await startSelect.selectOption({ label: '13:00' });
  t.equal(await selectedText(form.getByLabel('Bis')), '14:00', 'the length is kept');
  await form.getByRole('button', { name: 'Hierhin verschieben' }).click();
  const refusal = form.getByRole('alert');
  await refusal.waitFor();
  t.match(
    await refusal.textContent(),
    /Schon belegt \(.*13:00–14:00\)\. Die Buchung bleibt, wie sie war\./,
    'the refusal names the taken time',
  );
  t.notOk((await list.textContent())?.includes('Bob'), 'nobody named');
  const store = new SqliteBookingStore(records, site.site.id);
  t.equal(
    new Date((await store.get(april.id))?.start ?? 0).toISOString(),
    '2027-04-02T09:00:00.000Z',
    'refused: the date stays at 11:00',
  );
  // The free times are asked for again: 13:00 is no longer offered.
  await form.getByText(/belegt 13:00–14:00/).waitFor();
  t.equal(await startSelect.locator('option', { hasText: '13:00' }).count(), 0);
  await saveScreenshot(page, 'member-move-refused');

  await startSelect.selectOption({ label: '15:00' });
  await form.getByRole('button', { name: 'Hierhin verschieben' }).click();
  await list.getByText(/^Verschoben: Diskursraum, .*15:00–16:00\.$/).waitFor();
  await aprilItem.locator('.when', { hasText: '15:00–16:00' }).waitFor();
  t.equal(await aprilItem.getByRole('form').count(), 0, 'the form closes');
  const fridays = await store.listMine(ada.member.id);
  t.same(
    fridays
      .filter((b) => b.seriesId)
      .map((b) => [b.occurrence, new Date(b.start).toISOString(), new Date(b.end).toISOString(), b.status]),
    [
      ['2027-03-19T11:00', '2027-03-19T10:00:00.000Z', '2027-03-19T11:00:00.000Z', 'booked'],
      ['2027-03-26T11:00', '2027-03-26T10:00:00.000Z', '2027-03-26T11:00:00.000Z', 'booked'],
      ['2027-04-02T11:00', '2027-04-02T13:00:00.000Z', '2027-04-02T14:00:00.000Z', 'booked'],
    ],
    'only 2 April moved, to 15:00-16:00 Berlin summer time; the other dates stay',
  );
  for (const other of dates.filter((b) => b.id !== april.id)) {
    t.match(
      await list.locator(`li.booking[data-booking="${other.id}"] .when`).textContent(),
      /11:00–12:00/,
      `${other.occurrence} still shows 11:00-12:00`,
    );
  }

  // The single booking on Tuesday moves to Wednesday afternoon, keeping its two hours.
  const singleItem = list.locator(`li.booking[data-booking="${singleId}"]`);
  await singleItem.getByRole('button', { name: /verschieben$/ }).click();
  const singleForm = singleItem.getByRole('form');
  await singleForm.waitFor();
  t.equal(await singleForm.getByLabel('Tag').inputValue(), '2027-03-16');
  await singleForm.getByLabel('Tag').fill('2027-03-17');
  await singleForm.getByText(/Frei am .*17/).waitFor();
  await singleForm.getByLabel('Von').selectOption({ label: '14:00' });
  t.equal(await selectedText(singleForm.getByLabel('Bis')), '16:00', 'two hours, as before');
  await singleForm.getByRole('button', { name: 'Hierhin verschieben' }).click();
  await list.getByText(/^Verschoben: Diskursraum, .*14:00–16:00\.$/).waitFor();
  await singleItem.locator('.when', { hasText: '14:00–16:00' }).waitFor();
  const moved = await store.get(singleId);
  t.same(
    [new Date(moved?.start ?? 0).toISOString(), new Date(moved?.end ?? 0).toISOString(), moved?.status],
    ['2027-03-17T13:00:00.000Z', '2027-03-17T15:00:00.000Z', 'booked'],
  );
  await saveScreenshot(page, 'member-move-after');

  // English on request.
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  const singleEn = page.locator(`li.booking[data-booking="${singleId}"]`);
  await singleEn.getByRole('button', { name: /^Move Diskursraum on / }).click();
  await singleEn.getByRole('button', { name: 'Move here' }).waitFor();
  t.same(
    errors.filter((e) => !expectedRefusal.test(e)),
    [],
    'no errors in the page',
  );
});

async function selectedText(select: import('playwright-core').Locator): Promise<string> {
  // The chosen option's text: the values are instants, the member reads clock times.
  return select.evaluate(
    (el: { options: ArrayLike<{ textContent: string | null }>; selectedIndex: number }) =>
      el.options[el.selectedIndex]?.textContent?.trim() ?? '',
  );
}

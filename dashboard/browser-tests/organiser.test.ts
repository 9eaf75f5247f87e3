import t from 'tap';
import { Identity } from '../../members/identity.ts';
import { callApi, testApi } from '../../test-support/api.ts';
import { memberPhone, newPage, openBrowser, saveScreenshot, VIEWPORTS } from '../../test-support/browser.ts';
import { signedInMember, testRecords } from '../../test-support/members.ts';
import { buildingWithHall } from '../../test-support/small-building.ts';

/**
 * The organiser of a public event on their phone, in Chromium: Ada makes an event of her booking of the
 * discourse space (a title of blanks refused, said plainly), a visitor reserves on /events, another waits,
 * Ada sees the places taken and the waiting list (never who), a guest key for the date; after the date she
 * enters how many came and sees it, and the common-good report counts it. The API's and the page's clocks
 * are the test's: Monday 14 December 2026, 10:00 Berlin, then 20:30 the same day.
 */

const MORNING = Date.parse('2026-12-14T09:00:00Z');
const EVENING = Date.parse('2026-12-14T19:30:00Z');

t.test('an organiser makes an event of a booking, sees the sign-ups, enters who came', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  let clock = MORNING;
  // The hall with a lock of the building's (the Protel room's stands in): its dates take guest keys. Its
  // public hours make it a public space of the common-good report.
  const site = buildingWithHall('lock-p1');
  const hall = site.spaces.find((s) => s.id === 'hall');
  if (hall) hall.public_hours = [{ days: [2, 3, 4, 5], open: '10:00', close: '18:00' }];
  // Sessions on the process's clock, which is Chromium's too: a cookie expiring after the API's fixed instant
  // would be expired already for a browser run under faketime months later.
  const records = testRecords(t);
  const identity = new Identity(records, { site: { id: site.site.id } });
  const { app } = await testApi(t, { site, records, identity, now: () => clock });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const ada = await signedInMember(app, records, 'member');
  const booked = await callApi(app, 'POST', '/api/bookings', ada.cookie, {
    spaceId: 'hall',
    start: '2026-12-14T18:00+01:00',
    end: '2026-12-14T20:00+01:00',
  });
  t.equal(booked.status, 201, booked.text);

  const { page, errors } = await memberPhone(
    browser,
    base,
    { email: ada.member.email, password: ada.password },
    MORNING,
  );
  const mine = page.getByRole('region', { name: 'Meine Veranstaltungen' });
  await mine.getByText('Noch keine.', { exact: false }).waitFor();

  // From the booking: "Veranstaltung daraus machen".
  const booking = page.locator(`li.booking[data-booking="${booked.json.id}"]`);
  await booking.getByRole('button', { name: /^Veranstaltung aus Diskursraum am / }).click();
  const form = booking.getByRole('form', { name: /^Veranstaltung in Diskursraum, / });
  await form.getByLabel('Titel').fill('   ');
  await form.getByRole('button', { name: 'Veranstaltung anlegen' }).click();
  await form.getByRole('alert').getByText('Veranstaltung nicht möglich: an event needs a title').waitFor();
  await form.getByLabel('Titel').fill('Smartphone-Sprechstunde');
  await form.getByLabel('Beschreibung (freiwillig)').fill('Fragen zum Handy? Wir helfen.');
  await form.getByLabel('Plätze für Gäste').fill('2');
  t.ok(await form.getByRole('radio', { name: /Öffentlich/ }).isChecked(), 'public unless chosen otherwise');
  await saveScreenshot(page, 'organiser-make-event');
  await form.getByRole('button', { name: 'Veranstaltung anlegen' }).click();
  await page.getByText('Veranstaltung „Smartphone-Sprechstunde“ angelegt.', { exact: false }).waitFor();
  await booking.getByText('Veranstaltung: Smartphone-Sprechstunde').waitFor();
  t.equal(await booking.getByRole('button', { name: /^Veranstaltung aus/ }).count(), 0, 'not offered twice');
  const event = mine.getByRole('article', { name: 'Smartphone-Sprechstunde' });
  await event.getByText('0 von 2 Plätzen belegt').waitFor();
  await event.getByText('Wie viele kamen, trägst du ein, sobald der Termin begonnen hat.').waitFor();

  // A visitor reserves two places on /events, without an account; the next one waits.
  const visitor = await newPage(browser, VIEWPORTS.phone);
  await visitor.page.clock.setFixedTime(MORNING);
  await visitor.page.goto(`${base}/events`);
  const item = visitor.page.locator('li.event').filter({ hasText: 'Smartphone-Sprechstunde' });
  await item.getByRole('button', { name: 'Platz reservieren' }).click();
  const signUp = visitor.page.getByRole('form', { name: 'Platz reservieren für Smartphone-Sprechstunde' });
  await signUp.getByLabel('Plätze').fill('2');
  await signUp.getByLabel('E-Mail (freiwillig)').fill('ada.visitor@example.org');
  await signUp.getByRole('button', { name: 'Reservieren' }).click();
  await visitor.page.getByText('Reserviert: 2 Plätze.').waitFor();
  const [created] = (await callApi(app, 'GET', '/api/me/events', ada.cookie)).json.events as Array<{
    id: string;
  }>;
  const waits = await callApi(
    app,
    'POST',
    `/api/public/events/${created?.id}/dates/${booked.json.id}/signups`,
    undefined,
    { places: 1, email: 'next.visitor@example.org' },
  );
  t.equal(waits.json.status, 'waiting', waits.text);

  // Ada looks again: the counts, never who.
  await page.reload();
  await event.getByText('2 von 2 Plätzen belegt').waitFor();
  await event.getByText('1 auf der Warteliste').waitFor();
  const text = (await page.locator('main').textContent()) ?? '';
  t.notOk(text.includes('visitor@'), 'no visitor named on the organiser page');
  // A guest key for the date (a speaker, a helper who comes before her).
  await event.getByRole('button', { name: /^Gastschlüssel für Diskursraum am / }).click();
  const link = await event.getByRole('textbox', { name: /^Gastschlüssel für Diskursraum am / }).inputValue();
  t.match(link, new RegExp(`^${base}/key#[A-Za-z0-9_-]{32}$`));
  await saveScreenshot(page, 'organiser-my-events');

  // 20:30, the date is over: "Wie viele kamen?" – 3 came (one of the waiting list at the door).
  clock = EVENING;
  await page.clock.setFixedTime(EVENING);
  await page.reload();
  const count = event.getByRole('spinbutton', { name: /^Wie viele kamen am / });
  await count.fill('3');
  await event.getByRole('button', { name: 'Speichern' }).click();
  await event.getByText('Gekommen: 3').waitFor();
  t.equal(await count.inputValue(), '3', 'the saved figure stays in the field');
  t.equal(await event.getByRole('button', { name: /^Gastschlüssel/ }).count(), 0, 'no key after the date');
  await saveScreenshot(page, 'organiser-attended');
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  const english = page.getByRole('region', { name: 'My events' });
  await english.getByText('Came: 3').waitFor();
  await english.getByText('2 of 2 places taken').waitFor();
  t.same(
    errors.filter((e) => !/status of (400|401)/.test(e)),
    [],
    'no errors on the page (but the refused title and the question who is signed in)',
  );
  t.same(visitor.errors, [], 'no errors on the events page');

  // The common-good report's data source has it: the event held, 3 people reached.
  const board = await signedInMember(app, records, 'board');
  const report = await callApi(app, 'GET', '/api/board/common-good?period=2026-12', board.cookie);
  t.equal(report.status, 200, report.text);
  const rows = (report.json.tables as Array<{ id: string; rows: Array<Record<string, unknown>> }>).find(
    (x) => x.id === 'events',
  )?.rows;
  t.match(rows, [{ title: 'Smartphone-Sprechstunde', signUps: 2, attended: 3, reached: 3 }]);
});

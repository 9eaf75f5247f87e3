import t from 'tap';
import { testApi } from '../../test-support/api.ts';
import { newPage, openBrowser, saveScreenshot, VIEWPORTS } from '../../test-support/browser.ts';
import { signedInMember } from '../../test-support/members.ts';
import { buildingWithHall } from '../../test-support/small-building.ts';

/**
 * The public events page, without sign-in: the open evening series and a workshop, never the members-only
 * talk, never a person's name or address; German first, English on request. The API's and the page's
 * clocks are fixed at Sunday 13 December 2026, 22:50 Berlin.
 */

const NOW = Date.parse('2026-12-13T21:50:00Z');

t.test('/events shows the public events to anyone, with no personal data', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const site = buildingWithHall();
  const { app, records } = await testApi(t, { site, now: () => NOW, lobbyPublic: true });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const facility = await signedInMember(app, records, 'facility');
  const post = async (url: string, payload: Record<string, unknown>) => {
    const response = await app.inject({ method: 'POST', url, headers: { cookie: facility.cookie }, payload });
    if (response.statusCode !== 201) throw new Error(`${url}: ${response.statusCode} ${response.body}`);
    return JSON.parse(response.body) as Record<string, unknown>;
  };
  const evening = await post('/api/booking-series', {
    spaceId: 'hall',
    firstDate: '2026-12-14',
    start: '18:00',
    end: '21:00',
    every: 'month',
    ordinal: -1,
    weekday: 4,
    count: 3,
    onConflict: 'refuse',
  });
  await post('/api/events', {
    title: 'Offener Abend',
    description: 'Nachbarschaft, Ideen, Tee.',
    capacity: 60,
    visibility: 'public',
    seriesId: (evening.series as { id: string }).id,
  });
  const talk = await post('/api/bookings', {
    spaceId: 'hall',
    start: '2026-12-17T10:00+01:00',
    end: '2026-12-17T12:00+01:00',
  });
  await post('/api/events', { title: 'Interner Vortrag', visibility: 'members', bookingId: talk.id });
  // Tonight, after closing time: staff may book outside the opening hours.
  const reading = await post('/api/bookings', {
    spaceId: 'hall',
    start: '2026-12-13T23:00+01:00',
    end: '2026-12-13T23:45+01:00',
  });
  await post('/api/events', { title: 'Nachtlesung', visibility: 'public', bookingId: reading.id });

  const { page, errors } = await newPage(browser, VIEWPORTS.phone);
  await page.clock.setFixedTime(NOW);
  const response = await page.goto(`${base}/events`);
  t.equal(response?.status(), 200);
  await page.getByRole('list', { name: 'Veranstaltungen' }).waitFor();
  const items = page.locator('li.event');
  await items.first().waitFor();
  t.equal(await items.count(), 3, 'tonight and the two evenings of the next 60 days');
  t.match(await items.first().textContent(), /Nachtlesung/);
  t.match(
    await items.nth(1).textContent(),
    /Do\., 31\. Dez\., 18:00–21:00.*Offener Abend.*Diskursraum · 60 Plätze/s,
  );
  const text = (await page.locator('main').textContent()) ?? '';
  t.notOk(text.includes('Interner Vortrag'), 'no members-only event');
  t.notOk(text.includes(facility.member.name), 'no organiser name');
  t.notOk(text.includes(facility.member.email), 'no e-mail address');
  t.equal(
    await page.getByRole('link', { name: 'Im Kalender abonnieren (iCalendar)' }).getAttribute('href'),
    '/api/public/events.ics',
  );
  await saveScreenshot(page, 'events-public');

  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await page.getByRole('heading', { name: 'Events', level: 1 }).waitFor();
  t.match(await items.nth(1).textContent(), /Thu 31 Dec, 18:00–21:00.*60 places/s);
  t.same(errors, [], 'no errors in the page');

  // The lobby screen says what is on today in the discourse space.
  const lobby = await newPage(browser, VIEWPORTS.lobbyLandscape);
  await lobby.page.clock.setFixedTime(NOW);
  await lobby.page.goto(`${base}/lobby`);
  const today = lobby.page.getByTestId('today-events');
  await today.waitFor();
  t.equal(await today.count(), 1);
  t.equal((await today.textContent())?.trim(), 'Heute im Diskursraum: 23:00–23:45 Nachtlesung');
  await saveScreenshot(lobby.page, 'lobby-today-events');
  t.same(lobby.errors, [], 'no errors on the lobby screen');
});

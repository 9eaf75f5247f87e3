import t from 'tap';
import { callApi, testApi } from '../../test-support/api.ts';
import { newPage, openBrowser, saveScreenshot, VIEWPORTS } from '../../test-support/browser.ts';
import { signedInMember } from '../../test-support/members.ts';
import { buildingWithHall } from '../../test-support/small-building.ts';

/**
 * Signing up on the public /events page in Chromium, without an account: two places with an address, the
 * next visitor on the waiting list, the first back with the cancel link cancels, and the waiting one moves up.
 * German first, English on request. The API's and the page's clocks: Sunday 13 December 2026, 22:50 Berlin.
 */

const NOW = Date.parse('2026-12-13T21:50:00Z');

t.test('a visitor reserves places, another waits, the first cancels by the link', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const { app, records } = await testApi(t, { site: buildingWithHall(), now: () => NOW });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const facility = await signedInMember(app, records, 'facility');
  const booking = await callApi(app, 'POST', '/api/bookings', facility.cookie, {
    spaceId: 'hall',
    start: '2026-12-17T18:00+01:00',
    end: '2026-12-17T20:00+01:00',
  });
  const event = await callApi(app, 'POST', '/api/events', facility.cookie, {
    title: 'Smartphone-Sprechstunde',
    capacity: 2,
    visibility: 'public',
    bookingId: booking.json.id,
  });
  t.equal(event.status, 201, event.text);

  const first = await newPage(browser, VIEWPORTS.phone);
  await first.page.clock.setFixedTime(NOW);
  await first.page.goto(`${base}/events`);
  const item = first.page.locator('li.event').first();
  await item.waitFor();
  t.match(await item.textContent(), /noch 2 frei/);
  await item.getByRole('button', { name: 'Platz reservieren' }).click();
  const form = first.page.getByRole('form', { name: 'Platz reservieren für Smartphone-Sprechstunde' });
  await form.getByLabel('Plätze').fill('2');
  await form.getByLabel('E-Mail (freiwillig)').fill('ada.visitor@example.org');
  await form.getByRole('button', { name: 'Reservieren' }).click();
  await first.page.getByText('Reserviert: 2 Plätze.').waitFor();
  const cancelLink =
    (await first.page.getByRole('link', { name: /\/events#cancel=/ }).getAttribute('href')) ?? '';
  t.match(cancelLink, /^http:\/\/127\.0\.0\.1:\d+\/events#cancel=[A-Za-z0-9_-]{32}$/);
  await first.page.locator('li.event').first().getByText('ausgebucht – Warteliste').waitFor();
  await saveScreenshot(first.page, 'events-signed-up');

  // The next visitor, in English, without an address: the waiting list.
  const second = await newPage(browser, VIEWPORTS.phone);
  await second.page.clock.setFixedTime(NOW);
  await second.page.goto(`${base}/events?lang=en`);
  await second.page.getByRole('button', { name: 'Reserve a place' }).click();
  await second.page.getByRole('button', { name: 'Reserve', exact: true }).click();
  await second.page.getByText('You are on the waiting list (1 places).').waitFor();
  const secondLink =
    (await second.page.getByRole('link', { name: /\/events#cancel=/ }).getAttribute('href')) ?? '';

  // The first visitor comes back with the link and cancels; the second has a place now.
  const back = await newPage(browser, VIEWPORTS.phone);
  await back.page.clock.setFixedTime(NOW);
  await back.page.goto(cancelLink);
  const mine = back.page.getByTestId('my-signup');
  await mine.waitFor();
  t.match(
    await mine.textContent(),
    /Smartphone-Sprechstunde, Do\., 17\. Dez\., 18:00: 2 Plätze reserviert\./,
  );
  await back.page.getByRole('button', { name: 'Absagen' }).click();
  await back.page.getByText('Abgesagt. Danke, dass Sie Bescheid gegeben haben.').waitFor();
  const secondToken = new URL(secondLink).hash.replace('#cancel=', '');
  t.equal(
    (await callApi(app, 'POST', '/api/public/signups/status', undefined, { token: secondToken })).json.status,
    'confirmed',
    'the waiting visitor moved up',
  );
  await saveScreenshot(back.page, 'events-cancelled');

  const text = (await back.page.locator('main').textContent()) ?? '';
  t.notOk(text.includes('ada.visitor'), 'no address on the page');
  t.notOk(text.includes(facility.member.name), 'no organiser name');
  t.same([...first.errors, ...second.errors, ...back.errors], [], 'no errors in the pages');
});

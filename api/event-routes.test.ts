import ICAL from 'ical.js';
import t, { type Test } from 'tap';
import { callApi, testApi } from '../test-support/api.ts';
import { signedInMember, signIn } from '../test-support/members.ts';
import { buildingWithHall } from '../test-support/small-building.ts';

/**
 * Public events through the real API and the records file: made on a series and on a single booking, the
 * public list and iCalendar feed without sign-in (no person named), members-only events for members only,
 * someone else's booking refused, cancelling. The clock is fixed at Sunday 13 December 2026, 22:50 Berlin.
 */

const NOW = Date.parse('2026-12-13T21:50:00Z');

async function eventsApi(t: Test) {
  const site = buildingWithHall();
  const { app, records } = await testApi(t, { site, now: () => NOW });
  return { app, records };
}

const call = callApi;

t.test('an open evening series and a members-only talk: who sees what, and the public feed', async (t) => {
  const { app, records } = await eventsApi(t);
  const facility = await signedInMember(app, records, 'facility');
  const ada = await signedInMember(app, records, 'member');
  const bob = await signedInMember(app, records, 'member');

  // The open evening: the last Thursday of the month, 18:00-21:00, four dates from New Year's Eve.
  const series = await call(app, 'POST', '/api/booking-series', facility.cookie, {
    spaceId: 'hall',
    firstDate: '2026-12-14',
    start: '18:00',
    end: '21:00',
    every: 'month',
    ordinal: -1,
    weekday: 4,
    count: 4,
    onConflict: 'refuse',
  });
  t.equal(series.status, 201, series.text);
  const seriesId = (series.json.series as { id: string }).id;
  const evening = await call(app, 'POST', '/api/events', facility.cookie, {
    title: 'Offener Abend',
    description: 'Jeden letzten Donnerstag: Nachbarschaft, Ideen, Tee.',
    capacity: 60,
    visibility: 'public',
    seriesId,
  });
  t.equal(evening.status, 201, evening.text);

  // Ada's talk for members on her own booking; Bob cannot make an event of it.
  const booking = await call(app, 'POST', '/api/bookings', ada.cookie, {
    spaceId: 'hall',
    start: '2026-12-17T10:00+01:00',
    end: '2026-12-17T12:00+01:00',
  });
  t.equal(booking.status, 201, booking.text);
  const bookingId = booking.json.id as string;
  const talk = { title: 'Vortrag', visibility: 'members', bookingId };
  t.equal((await call(app, 'POST', '/api/events', bob.cookie, talk)).status, 404, "someone else's booking");
  t.equal((await call(app, 'POST', '/api/events', undefined, talk)).status, 401);
  t.equal((await call(app, 'POST', '/api/events', ada.cookie, { ...talk, title: ' ' })).status, 400);
  t.equal(
    (await call(app, 'POST', '/api/events', ada.cookie, { ...talk, seriesId })).status,
    400,
    'a booking or a series, not both',
  );
  const made = await call(app, 'POST', '/api/events', ada.cookie, talk);
  t.equal(made.status, 201, made.text);

  const open = await call(app, 'GET', '/api/public/events');
  t.equal(open.status, 200, 'no sign-in needed');
  const dates = open.json.dates as Array<Record<string, unknown>>;
  t.same(
    dates.map((d) => [d.title, d.start, d.spaceName]),
    [
      ['Offener Abend', '2026-12-31T17:00:00.000Z', 'Diskursraum'],
      ['Offener Abend', '2027-01-28T17:00:00.000Z', 'Diskursraum'],
    ],
    'the next 60 days of public dates; the members-only talk is not there',
  );
  for (const who of [facility, ada]) {
    t.notOk(open.text.includes(who.member.id), 'no member id');
    t.notOk(open.text.includes(who.member.email), 'no e-mail address');
    t.notOk(open.text.includes(who.member.name), 'no name');
  }
  const members = await call(app, 'GET', '/api/events', bob.cookie);
  t.same(
    (members.json.dates as Array<{ title: string }>).map((d) => d.title),
    ['Vortrag', 'Offener Abend', 'Offener Abend'],
  );
  t.equal((await call(app, 'GET', '/api/events')).status, 401);

  // The public feed: every date of the series for a year, no person named.
  const feed = await call(app, 'GET', '/api/public/events.ics');
  t.equal(feed.status, 200);
  t.match(feed.headers['content-type'], /text\/calendar/);
  const events = new ICAL.Component(ICAL.parse(feed.text))
    .getAllSubcomponents('vevent')
    .map((v) => new ICAL.Event(v));
  t.same(
    events.map((e) => [e.summary, e.startDate.toJSDate().toISOString()]),
    [
      ['Offener Abend', '2026-12-31T17:00:00.000Z'],
      ['Offener Abend', '2027-01-28T17:00:00.000Z'],
      ['Offener Abend', '2027-02-25T17:00:00.000Z'],
      ['Offener Abend', '2027-03-25T17:00:00.000Z'],
    ],
  );
  t.notOk(feed.text.includes(facility.member.email), 'no organiser in the feed');

  // One date of the series cancelled: gone from the public list; the event cancelled: gone altogether.
  const dateIds = (series.json.series as { bookings: Array<{ id: string }> }).bookings;
  t.equal((await call(app, 'DELETE', `/api/bookings/${dateIds[0]?.id}`, facility.cookie)).status, 200);
  t.same(
    ((await call(app, 'GET', '/api/public/events')).json.dates as Array<{ start: string }>).map(
      (d) => d.start,
    ),
    ['2027-01-28T17:00:00.000Z'],
  );
  const eventId = evening.json.id as string;
  t.equal((await call(app, 'DELETE', `/api/events/${eventId}`, bob.cookie)).status, 404, 'not the organiser');
  t.equal((await call(app, 'DELETE', `/api/events/${eventId}`, facility.cookie)).status, 204);
  t.same((await call(app, 'GET', '/api/public/events')).json.dates, []);
});

t.test("the organiser's own events: dates, places taken and waiting, who came, a guest key", async (t) => {
  let clock = NOW;
  // The hall with a lock of the building's (the Protel room's lock stands in), so its dates take guest keys.
  const site = buildingWithHall('lock-p1');
  const { app, records } = await testApi(t, { site, now: () => clock });
  const ada = await signedInMember(app, records, 'member');
  const bob = await signedInMember(app, records, 'member');
  t.same((await call(app, 'GET', '/api/me/events', ada.cookie)).json, { events: [] }, 'none yet');
  t.equal((await call(app, 'GET', '/api/me/events')).status, 401);

  const booking = await call(app, 'POST', '/api/bookings', ada.cookie, {
    spaceId: 'hall',
    start: '2026-12-17T18:00+01:00',
    end: '2026-12-17T20:00+01:00',
  });
  const made = await call(app, 'POST', '/api/events', ada.cookie, {
    title: 'Smartphone-Sprechstunde',
    capacity: 2,
    visibility: 'public',
    bookingId: booking.json.id,
  });
  t.equal(made.status, 201, made.text);
  const eventId = made.json.id as string;
  const dateId = booking.json.id as string;
  for (const [places, email] of [
    [2, 'ada.visitor@example.org'],
    [1, 'second.visitor@example.org'],
  ] as const) {
    const signed = await call(
      app,
      'POST',
      `/api/public/events/${eventId}/dates/${dateId}/signups`,
      undefined,
      {
        places,
        email,
      },
    );
    t.equal(signed.status, 201, signed.text);
  }

  const before = await call(app, 'GET', '/api/me/events', ada.cookie);
  t.equal(before.status, 200, before.text);
  t.same(before.json, {
    events: [
      {
        id: eventId,
        title: 'Smartphone-Sprechstunde',
        description: '',
        capacity: 2,
        visibility: 'public',
        bookingId: dateId,
        seriesId: null,
        dates: [
          {
            dateId,
            siteId: site.site.id,
            siteName: site.site.name,
            timezone: site.site.timezone,
            spaceId: 'hall',
            spaceName: 'Diskursraum',
            start: '2026-12-17T17:00:00.000Z',
            end: '2026-12-17T19:00:00.000Z',
            occurrence: null,
            taken: 2,
            waiting: 1,
            left: 0,
            attended: null,
            signUpOpen: true,
            countOpen: false,
            guestKey: true,
          },
        ],
      },
    ],
  });
  t.notOk(before.text.includes('visitor@'), 'counts only: no visitor named');
  t.same((await call(app, 'GET', '/api/me/events', bob.cookie)).json, { events: [] }, "not another's events");

  // Thursday 20:30 Berlin: the date is over; Ada enters how many came and sees it; no more keys for it.
  clock = Date.parse('2026-12-17T19:30:00Z');
  // Four days on, her session has lapsed (12 hours idle): she signs in again.
  const cookie = await signIn(app, ada.member.email, ada.password);
  const counted = await call(app, 'PUT', `/api/events/${eventId}/dates/${dateId}/attendance`, cookie, {
    attended: 3,
  });
  t.equal(counted.status, 200, counted.text);
  const after = await call(app, 'GET', '/api/me/events', cookie);
  const [date] = (after.json.events as Array<{ dates: Array<Record<string, unknown>> }>)[0]?.dates ?? [];
  t.match(date, { attended: 3, signUpOpen: false, countOpen: true, guestKey: false });

  // A month and more later the date has left the window; the event is still listed.
  clock = Date.parse('2027-01-20T12:00:00Z');
  const later = await signIn(app, ada.member.email, ada.password);
  t.same(
    ((await call(app, 'GET', '/api/me/events', later)).json.events as Array<{ dates: unknown[] }>)[0]?.dates,
    [],
  );
});

import type { FastifyInstance } from 'fastify';
import ICAL from 'ical.js';
import t, { type Test } from 'tap';
import { testApi } from '../test-support/api.ts';
import { signedInMember } from '../test-support/members.ts';
import { smallBuilding } from '../test-support/small-building.ts';

/**
 * Series through the real API: preview with taken and refused dates, all-or-nothing against skipping,
 * opening hours for members but not staff, one date moved or cancelled, the rest ended, members' isolation,
 * and the calendar feed's one recurring VEVENT. The clock is fixed at Sunday 13 December 2026, 22:50 Berlin.
 */

const NOW = Date.parse('2026-12-13T21:50:00Z');

async function seriesApi(t: Test) {
  const site = smallBuilding();
  site.spaces.push({
    id: 'hall',
    name: 'Diskursraum',
    floor: 'eg',
    kind: 'hall',
    area_m2: 600,
    bookable: true,
    opening_hours: [
      { days: [1, 2, 3, 4, 5, 6], open: '09:00', close: '22:00' },
      { days: [7], open: '11:00', close: '18:00' },
    ],
  });
  const { app, records } = await testApi(t, { site, now: () => NOW });
  const ada = await signedInMember(app, records, 'member');
  const bob = await signedInMember(app, records, 'member');
  const facility = await signedInMember(app, records, 'facility');
  return { app, ada, bob, facility };
}

async function call(app: FastifyInstance, method: string, url: string, cookie?: string, payload?: unknown) {
  const response = await app.inject({
    method: method as 'GET',
    url,
    headers: cookie ? { cookie } : {},
    ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
  });
  let json: Record<string, unknown> & { dates?: Array<Record<string, unknown>> } = {};
  try {
    json = JSON.parse(response.body);
  } catch {}
  return { status: response.statusCode, json, text: response.body };
}

// Fridays 11:00-12:00 from 19 March 2027, four dates: across the spring change on 28 March.
const fridays = {
  spaceId: 'hall',
  firstDate: '2027-03-19',
  start: '11:00',
  end: '12:00',
  every: 'week',
  count: 4,
};

t.test('preview, then all-or-nothing refuses and skipping lists the taken date', async (t) => {
  const { app, ada, bob } = await seriesApi(t);
  t.equal((await call(app, 'POST', '/api/booking-series/preview', undefined, fridays)).status, 401);

  const clear = await call(app, 'POST', '/api/booking-series/preview', ada.cookie, fridays);
  t.equal(clear.status, 200, clear.text);
  t.equal(clear.json.rrule, 'FREQ=WEEKLY;INTERVAL=1;BYDAY=FR;COUNT=4');
  t.same(
    clear.json.dates?.map((d) => [d.occurrence, d.start, d.state]),
    [
      ['2027-03-19T11:00', '2027-03-19T10:00:00.000Z', 'free'],
      ['2027-03-26T11:00', '2027-03-26T10:00:00.000Z', 'free'],
      ['2027-04-02T11:00', '2027-04-02T09:00:00.000Z', 'free'],
      ['2027-04-09T11:00', '2027-04-09T09:00:00.000Z', 'free'],
    ],
  );

  const held = await call(app, 'POST', '/api/bookings', bob.cookie, {
    spaceId: 'hall',
    start: '2027-04-02T11:30+02:00',
    end: '2027-04-02T12:30+02:00',
  });
  t.equal(held.status, 201, held.text);

  const preview = await call(app, 'POST', '/api/booking-series/preview', ada.cookie, fridays);
  t.same(
    preview.json.dates?.map((d) => d.state),
    ['free', 'free', 'taken', 'free'],
  );
  t.same(preview.json.dates?.[2]?.conflict, {
    start: '2027-04-02T09:30:00.000Z',
    end: '2027-04-02T10:30:00.000Z',
  });
  t.notOk(JSON.stringify(preview.json).includes(bob.member.id), 'the conflict names nobody');

  const refused = await call(app, 'POST', '/api/booking-series', ada.cookie, {
    ...fridays,
    onConflict: 'refuse',
  });
  t.equal(refused.status, 409, refused.text);
  t.equal(refused.json.reason, 'slot_taken');
  t.same(
    refused.json.dates?.map((d) => d.occurrence),
    ['2027-04-02T11:00'],
  );
  const mine = await call(
    app,
    'GET',
    '/api/bookings?from=2027-03-01T00:00Z&to=2027-04-30T00:00Z',
    ada.cookie,
  );
  t.same(mine.json.bookings, [], 'nothing half-booked');

  t.equal(
    (await call(app, 'POST', '/api/booking-series', ada.cookie, fridays)).status,
    400,
    'the choice is not made silently: onConflict is required',
  );

  const saved = await call(app, 'POST', '/api/booking-series', ada.cookie, {
    ...fridays,
    onConflict: 'skip',
  });
  t.equal(saved.status, 201, saved.text);
  const series = saved.json.series as { id: string; bookings: Array<{ occurrence: string; status: string }> };
  t.same(
    series.bookings.map((b) => b.occurrence),
    ['2027-03-19T11:00', '2027-03-26T11:00', '2027-04-09T11:00'],
  );
  t.same(
    (saved.json.skipped as Array<{ occurrence: string }>).map((d) => d.occurrence),
    ['2027-04-02T11:00'],
  );

  // Bob does not see Ada's series.
  t.equal((await call(app, 'GET', `/api/booking-series/${series.id}`, bob.cookie)).status, 404);
  t.equal((await call(app, 'GET', `/api/booking-series/${series.id}`, ada.cookie)).status, 200);
});

t.test('opening hours bind members; staff book the evening; malformed series are 400', async (t) => {
  const { app, ada, facility } = await seriesApi(t);
  // The open evening: the last Thursday of the month, 19:00-23:00 (the hall closes at 22:00).
  const evening = {
    spaceId: 'hall',
    firstDate: '2026-12-14',
    start: '19:00',
    end: '23:00',
    every: 'month',
    ordinal: -1,
    weekday: 4,
    until: '2027-03-31',
    onConflict: 'refuse',
  };
  const member = await call(app, 'POST', '/api/booking-series', ada.cookie, evening);
  t.equal(member.status, 422, member.text);
  t.equal(member.json.reason, 'outside_opening_hours');
  t.same(
    member.json.dates?.map((d) => d.occurrence),
    ['2026-12-31T19:00', '2027-01-28T19:00', '2027-02-25T19:00', '2027-03-25T19:00'],
    'December 2026 has five Thursdays: the last is New Year’s Eve',
  );
  const staff = await call(app, 'POST', '/api/booking-series', facility.cookie, evening);
  t.equal(staff.status, 201, staff.text);

  const bad = async (change: Record<string, unknown>) =>
    (await call(app, 'POST', '/api/booking-series/preview', ada.cookie, { ...fridays, ...change })).status;
  t.equal(await bad({ firstDate: '2027-02-30' }), 400, 'a day that does not exist');
  t.equal(await bad({ end: '10:00' }), 400, 'end before start');
  t.equal(await bad({ until: '2027-05-01' }), 400, 'both until and count');
  t.equal(await bad({ count: undefined }), 400, 'neither');
  t.equal(await bad({ every: 'month' }), 400, 'monthly without ordinal and weekday');
  t.equal(await bad({ count: 61 }), 422, 'too many dates');
  t.equal(await bad({ spaceId: 'cafe' }), 404, 'not bookable');
  t.equal(await bad({ firstDate: '2026-12-11' }), 200, 'the preview shows a date in the past…');
  const past = await call(app, 'POST', '/api/booking-series/preview', ada.cookie, {
    ...fridays,
    firstDate: '2026-12-11',
  });
  t.same(past.json.dates?.[0], {
    occurrence: '2026-12-11T11:00',
    start: '2026-12-11T10:00:00.000Z',
    end: '2026-12-11T11:00:00.000Z',
    state: 'refused',
    reason: 'start_in_past',
    message: 'the start is in the past',
  });
});

t.test(
  'one date cancelled, one moved, the rest ended; the calendar feed has one recurring event',
  async (t) => {
    const { app, ada, bob } = await seriesApi(t);
    const saved = await call(app, 'POST', '/api/booking-series', ada.cookie, {
      ...fridays,
      count: 5,
      onConflict: 'refuse',
    });
    t.equal(saved.status, 201, saved.text);
    const series = saved.json.series as { id: string; bookings: Array<{ id: string; occurrence: string }> };
    const [first, second] = series.bookings;
    if (!first || !second) throw new Error('dates');

    t.equal(
      (await call(app, 'DELETE', `/api/bookings/${first.id}`, ada.cookie)).status,
      200,
      'one date cancelled',
    );
    t.equal(
      (
        await call(app, 'PATCH', `/api/bookings/${second.id}`, bob.cookie, {
          start: '2027-03-26T14:00+01:00',
          end: '2027-03-26T15:00+01:00',
        })
      ).status,
      404,
      "Bob cannot move Ada's date",
    );
    const late = await call(app, 'PATCH', `/api/bookings/${second.id}`, ada.cookie, {
      start: '2027-03-26T21:00+01:00',
      end: '2027-03-26T23:00+01:00',
    });
    t.equal(late.status, 422, 'a moved date still keeps the opening hours');
    const moved = await call(app, 'PATCH', `/api/bookings/${second.id}`, ada.cookie, {
      start: '2027-03-26T14:00+01:00',
      end: '2027-03-26T15:00+01:00',
    });
    t.equal(moved.status, 200, moved.text);
    t.same(moved.json, {
      id: second.id,
      occurrence: '2027-03-26T11:00',
      start: '2027-03-26T13:00:00.000Z',
      end: '2027-03-26T14:00:00.000Z',
      status: 'booked',
    });

    t.equal(
      (await call(app, 'DELETE', `/api/booking-series/${series.id}?from=2027-04-09T11:00`, bob.cookie))
        .status,
      404,
    );
    t.equal(
      (await call(app, 'DELETE', `/api/booking-series/${series.id}?from=2027-04-10T11:00`, ada.cookie))
        .status,
      404,
      'not a date of the series',
    );
    const ended = await call(
      app,
      'DELETE',
      `/api/booking-series/${series.id}?from=2027-04-09T11:00`,
      ada.cookie,
    );
    t.equal(ended.status, 200, ended.text);
    t.equal(ended.json.cancelled, 2);
    t.equal(
      (ended.json.series as { rrule: string }).rrule,
      'FREQ=WEEKLY;INTERVAL=1;BYDAY=FR;UNTIL=20270402T090000Z',
    );

    const feed = await call(app, 'GET', '/api/me/calendar.ics', ada.cookie);
    t.equal(feed.status, 200);
    const calendar = new ICAL.Component(ICAL.parse(feed.text));
    const events = calendar.getAllSubcomponents('vevent').map((v) => new ICAL.Event(v));
    for (const zone of calendar.getAllSubcomponents('vtimezone')) ICAL.TimezoneService.register(zone);
    const master = events.find((e) => e.isRecurring());
    const exception = events.find((e) => e.isRecurrenceException());
    if (!master || !exception) throw new Error(`no recurring VEVENT and its exception in\n${feed.text}`);
    master.relateException(exception);
    t.equal(events.filter((e) => e.uid === master.uid).length, 2, 'the series and its one moved date');
    t.match(feed.text, /DTSTART;TZID=Europe\/Berlin:20270319T110000/);
    t.match(feed.text, /RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=FR;UNTIL=20270402T090000Z/);
    t.match(feed.text, /EXDATE;TZID=Europe\/Berlin:20270319T110000/, 'the cancelled date');
    t.match(feed.text, /RECURRENCE-ID;TZID=Europe\/Berlin:20270326T110000/, 'the moved date');
    t.match(feed.text, /BEGIN:VTIMEZONE\r\nTZID:Europe\/Berlin/);
    // Expanded by ical.js with the feed's own VTIMEZONE: the remaining dates, 11:00 Berlin either side of the change.
    const expand = master.iterator();
    const starts: string[] = [];
    for (let next = expand.next(); next && starts.length < 10; next = expand.next()) {
      const details = master.getOccurrenceDetails(next);
      starts.push(details.startDate.toJSDate().toISOString());
    }
    t.same(starts, ['2027-03-26T13:00:00.000Z', '2027-04-02T09:00:00.000Z']);
    t.equal(
      events.filter((e) => !e.isRecurring() && !e.isRecurrenceException()).length,
      0,
      'no single events',
    );
  },
);

t.test(
  'a series changed from a date on: previewed, refused whole on a conflict, split with the taken date skipped; two series in the feed',
  async (t) => {
    const { app, ada, bob, facility } = await seriesApi(t);
    const saved = await call(app, 'POST', '/api/booking-series', ada.cookie, {
      ...fridays,
      onConflict: 'refuse',
    });
    t.equal(saved.status, 201, saved.text);
    const id = (saved.json.series as { id: string }).id;
    // Bob holds 23 April 18:30-19:30: the third date of the changed series.
    const held = await call(app, 'POST', '/api/bookings', bob.cookie, {
      spaceId: 'hall',
      start: '2027-04-23T18:30+02:00',
      end: '2027-04-23T19:30+02:00',
    });
    t.equal(held.status, 201, held.text);
    // From 26 March on: every second Friday, 18:00-20:00, until 30 April.
    const change = {
      from: '2027-03-26T11:00',
      spaceId: 'hall',
      firstDate: '2027-03-26',
      start: '18:00',
      end: '20:00',
      every: 'week',
      interval: 2,
      until: '2027-04-30',
    };
    const url = `/api/booking-series/${id}/change`;
    t.equal((await call(app, 'POST', `${url}/preview`, undefined, change)).status, 401);
    t.equal(
      (await call(app, 'POST', `${url}/preview`, bob.cookie, change)).status,
      404,
      "Bob cannot see Ada's",
    );
    const notADate = await call(app, 'POST', `${url}/preview`, ada.cookie, {
      ...change,
      from: '2027-03-27T11:00',
    });
    t.match(notADate, { status: 404, json: { reason: 'no_such_date' } });
    const before = await call(app, 'POST', `${url}/preview`, ada.cookie, {
      ...change,
      firstDate: '2027-03-19',
    });
    t.match(
      before,
      { status: 422, json: { reason: 'change_before_date' } },
      'the dates before it stay as they are',
    );
    const late = await call(app, 'POST', `${url}/preview`, ada.cookie, {
      ...change,
      start: '21:00',
      end: '23:00',
    });
    t.equal(late.status, 200);
    t.ok(
      late.json.dates?.every((d) => d.state === 'refused' && d.reason === 'outside_opening_hours'),
      'opening hours bind a member',
    );

    const preview = await call(app, 'POST', `${url}/preview`, ada.cookie, change);
    t.equal(preview.status, 200, preview.text);
    t.equal(preview.json.ending, 'FREQ=WEEKLY;INTERVAL=1;BYDAY=FR;UNTIL=20270319T100000Z');
    t.equal(preview.json.rrule, 'FREQ=WEEKLY;INTERVAL=2;BYDAY=FR;UNTIL=20270430T215959Z');
    t.same(
      (preview.json.givenUp as Array<{ occurrence: string }>).map((d) => d.occurrence),
      ['2027-03-26T11:00', '2027-04-02T11:00', '2027-04-09T11:00'],
    );
    t.same(preview.json.visitors, []);
    t.same(
      preview.json.dates?.map((d) => [d.occurrence, d.start, d.state]),
      [
        ['2027-03-26T18:00', '2027-03-26T17:00:00.000Z', 'free'],
        ['2027-04-09T18:00', '2027-04-09T16:00:00.000Z', 'free'],
        ['2027-04-23T18:00', '2027-04-23T16:00:00.000Z', 'taken'],
      ],
    );

    const refused = await call(app, 'POST', url, ada.cookie, { ...change, onConflict: 'refuse' });
    t.match(refused, { status: 409, json: { reason: 'slot_taken' } });
    t.same(
      refused.json.dates?.map((d) => d.occurrence),
      ['2027-04-23T18:00'],
    );
    const unchanged = await call(app, 'GET', `/api/booking-series/${id}`, ada.cookie);
    t.same(
      (unchanged.json.bookings as Array<{ status: string }>).map((b) => b.status),
      ['booked', 'booked', 'booked', 'booked'],
      'nothing changed: never half-changed',
    );

    const split = await call(app, 'POST', url, ada.cookie, { ...change, onConflict: 'skip' });
    t.equal(split.status, 201, split.text);
    const ended = split.json.ended as {
      rrule: string;
      bookings: Array<{ occurrence: string; status: string }>;
    };
    const next = split.json.series as {
      id: string;
      memberId: string;
      bookings: Array<{ occurrence: string }>;
    };
    t.equal(ended.rrule, 'FREQ=WEEKLY;INTERVAL=1;BYDAY=FR;UNTIL=20270319T100000Z');
    t.same(
      ended.bookings.map((b) => [b.occurrence, b.status]),
      [
        ['2027-03-19T11:00', 'booked'],
        ['2027-03-26T11:00', 'cancelled'],
        ['2027-04-02T11:00', 'cancelled'],
        ['2027-04-09T11:00', 'cancelled'],
      ],
    );
    t.same(
      next.bookings.map((b) => b.occurrence),
      ['2027-03-26T18:00', '2027-04-09T18:00'],
    );
    t.same(
      (split.json.skipped as Array<{ occurrence: string }>).map((d) => d.occurrence),
      ['2027-04-23T18:00'],
    );
    t.same(split.json.events, []);
    t.equal(
      (await call(app, 'POST', url, ada.cookie, { ...change, onConflict: 'skip' })).status,
      404,
      'the old series has no such date any more',
    );

    // Staff move the new series' first date to 19:00 from then on: it stays Ada's.
    const again = await call(app, 'POST', `/api/booking-series/${next.id}/change`, facility.cookie, {
      ...change,
      from: '2027-03-26T18:00',
      start: '19:00',
      end: '20:00',
      until: '2027-04-10',
      onConflict: 'refuse',
    });
    t.equal(again.status, 201, again.text);
    t.equal((again.json.series as { memberId: string }).memberId, next.memberId);
    t.not((again.json.ended as { cancelledAt: string | null }).cancelledAt, null, 'nothing of it left');

    const feed = await call(app, 'GET', '/api/me/calendar.ics', ada.cookie);
    t.equal(feed.status, 200);
    const calendar = new ICAL.Component(ICAL.parse(feed.text));
    for (const zone of calendar.getAllSubcomponents('vtimezone')) ICAL.TimezoneService.register(zone);
    const masters = calendar
      .getAllSubcomponents('vevent')
      .map((v) => new ICAL.Event(v))
      .filter((e) => e.isRecurring());
    const expanded = masters.map((master) => {
      const starts: string[] = [];
      const expand = master.iterator();
      for (let n = expand.next(); n && starts.length < 10; n = expand.next())
        starts.push(master.getOccurrenceDetails(n).startDate.toJSDate().toISOString());
      return [master.uid.split('@')[0], master.component.getFirstPropertyValue('status'), starts];
    });
    t.same(
      expanded,
      [
        [id, 'CONFIRMED', ['2027-03-19T10:00:00.000Z']],
        // Replaced from its first date: cancelled, every date excluded.
        [next.id, 'CANCELLED', []],
        [
          (again.json.series as { id: string }).id,
          'CONFIRMED',
          ['2027-03-26T18:00:00.000Z', '2027-04-09T17:00:00.000Z'],
        ],
      ],
      'the old part ends with UNTIL; the new ones from 26 March on at 18:00 and 19:00 Berlin, either side of the change',
    );
    t.match(feed.text, /RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=FR;UNTIL=20270319T100000Z/);
  },
);

import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import type { Booking } from '../bookings/booking-store.ts';
import { SqliteBookingStore } from '../bookings/sqlite-booking-store.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { openRecords, type RecordsDb } from '../database/database.ts';
import { SqliteEventStore } from '../events/sqlite-event-store.ts';
import { SqliteSignUpStore } from '../events/sqlite-signup-store.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import type { CommonGoodReportOut } from '../reports/common-good-schema.ts';
import { octoberProfiles } from '../reports/test-october.ts';
import type { SiteConfig } from '../site/site.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import type { StoredReading } from '../storage/store.ts';
import { createTestMember, signedInMember } from '../test-support/members.ts';
import { buildApi } from './app.ts';

/**
 * The common-good report over the real API on real stores (SQLite readings, bookings, events): October 2025
 * of a small house with a public hall, every figure computed by hand below. Berlin: October 2025 runs from
 * 30 Sep 22:00 UTC to 31 Oct 23:00 UTC (clocks go back on Sunday 26 Oct: 745 hours).
 */

const NOW = Date.parse('2025-11-05T10:00:00Z');

function site(): SiteConfig {
  return {
    site: {
      id: 'gemeinwohl-haus',
      name: 'Gemeinwohlhaus',
      timezone: 'Europe/Berlin',
      energy_eur_per_kwh: 0.4,
      hour_prices_eur: { protel: 4 },
    },
    floors: [{ id: 'eg', name: 'Erdgeschoss', level: 0, area_m2: 200 }],
    spaces: [
      {
        id: 'saal',
        name: 'Diskursraum',
        floor: 'eg',
        kind: 'hall',
        area_m2: 100,
        bookable: true,
        opening_hours: [{ days: [1, 2, 3, 4, 5, 6], open: '09:00', close: '22:00' }],
        public_hours: [{ days: [2, 3, 4, 5], open: '10:00', close: '18:00' }],
      },
      { id: 'technik', name: 'Technik', floor: 'eg', kind: 'technical', area_m2: 10 },
      // Always bookable (no opening hours).
      { id: 'protel', name: 'Protel 1', floor: 'eg', kind: 'protel', area_m2: 20, bookable: true },
    ],
    devices: [
      { id: 'meter', profile: 'meter', topic: 'shellies/m', space: 'technik', meter_role: 'main' },
      { id: 'presence-saal', profile: 'presence', topic: 'z/presence-saal', space: 'saal' },
    ],
  };
}

const reading = (
  device: string,
  quantity: 'energy' | 'occupancy',
  iso: string,
  value: number,
): StoredReading => ({
  site: 'gemeinwohl-haus',
  space: device === 'meter' ? 'technik' : 'saal',
  device,
  channel: '0',
  quantity,
  unit: quantity === 'energy' ? 'kWh' : 'bool',
  value,
  ts: Date.parse(iso),
});

const READINGS = [
  // The main meter: 1000 kWh in October (its September reading is the baseline).
  reading('meter', 'energy', '2025-09-30T21:00:00Z', 1000),
  reading('meter', 'energy', '2025-10-15T12:00:00Z', 1500),
  reading('meter', 'energy', '2025-10-31T20:00:00Z', 2000),
  // The hall's sensor on the open evening (30 Oct, CET = UTC+1): someone from 19:10, gone at 20:50 →
  // hours 19:00 and 20:00 CET used (an hour with a 1 in it). Nobody seen at the Friday meeting.
  reading('presence-saal', 'occupancy', '2025-10-30T18:10:00Z', 1),
  reading('presence-saal', 'occupancy', '2025-10-30T19:20:00Z', 1),
  reading('presence-saal', 'occupancy', '2025-10-30T19:50:00Z', 0),
];

async function house(t: Test): Promise<{ app: FastifyInstance; records: RecordsDb }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-common-good-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => store.close());
  const records = openRecords(path.join(dir, 'wesprint.db'));
  t.teardown(() => records.close());
  await store.write(READINGS);
  const { member: staff } = await createTestMember(records, { role: 'facility' });
  const booking = (
    space: string,
    start: string,
    end: string,
    status: Booking['status'] = 'booked',
  ): Booking => ({
    id: randomUUID(),
    memberId: staff.id,
    spaceId: space,
    start: Date.parse(start),
    end: Date.parse(end),
    status,
    checkedInAt: null,
    releasedAt: null,
    cancelledAt: null,
    createdAt: Date.parse('2025-09-01T00:00:00Z'),
  });
  const members = booking('saal', '2025-10-08T14:00:00+02:00', '2025-10-08T16:00:00+02:00');
  const meeting = booking('saal', '2025-10-10T11:00:00+02:00', '2025-10-10T12:00:00+02:00');
  const evening = booking('saal', '2025-10-30T19:30:00+01:00', '2025-10-30T23:00:00+01:00', 'checked_in');
  const cancelled = booking('saal', '2025-10-15T10:00:00+02:00', '2025-10-15T18:00:00+02:00', 'cancelled');
  // Protel: 6–10 Oct 08–18 every day = 50 h; a released no-show on the 13th does not count.
  const protel = [6, 7, 8, 9, 10].map((d) =>
    booking(
      'protel',
      `2025-10-${String(d).padStart(2, '0')}T08:00:00+02:00`,
      `2025-10-${String(d).padStart(2, '0')}T18:00:00+02:00`,
    ),
  );
  const noShow = booking('protel', '2025-10-13T08:00:00+02:00', '2025-10-13T12:00:00+02:00', 'released');
  const bookings = new SqliteBookingStore(records, site().site.id);
  const imported = await bookings.importBookings([members, meeting, evening, cancelled, ...protel, noShow]);
  t.equal(imported.added, 10);
  const events = new SqliteEventStore(records);
  const details = { description: '', capacity: 180, visibility: 'public' as const, organiserId: staff.id };
  const open = await events.create({
    ...details,
    title: 'Offener Abend',
    bookingId: evening.id,
    seriesId: null,
  });
  const weekly = await events.create({
    ...details,
    title: 'Freitagsrunde',
    bookingId: meeting.id,
    seriesId: null,
  });
  // Members-only: private use of the hall, as any other booking.
  await events.create({
    ...details,
    visibility: 'members',
    title: 'Mitgliederversammlung',
    bookingId: members.id,
    seriesId: null,
  });
  // Visitors sign up for the open evening (30 places): 10 + 10 + 6 + 4, a group of 10 on the waiting list; the 4
  // cancel, and the 10 still do not fit (26 + 10 > 30): 26 signed up. The organiser counts 41 who came
  // (walk-ins). Nobody signed up for the Friday meeting; 8 came.
  const signUps = new SqliteSignUpStore(records);
  const before = evening.start - 86_400_000;
  const place = (places: number, capacity: number) =>
    signUps.signUp({ eventId: open.id, dateId: evening.id, places, email: null, capacity }, before);
  await place(10, 30);
  await place(10, 30);
  await place(6, 30);
  const leaving = await place(4, 30);
  await place(10, 30);
  if (!leaving.ok) throw new Error('a place for 4 was refused');
  await signUps.cancel(leaving.cancelToken, 30, before);
  await signUps.recordAttendance(open.id, evening.id, 41, staff.id, evening.end);
  await signUps.recordAttendance(weekly.id, meeting.id, 8, staff.id, meeting.end);
  const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  const app = await buildApi({
    site: site(),
    store,
    records,
    feed: new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site: site() }),
    quarantine,
    profiles: octoberProfiles(),
    now: () => NOW,
  });
  t.teardown(() => app.close());
  return { app, records };
}

t.test('the common-good report of October 2025, by hand', async (t) => {
  const { app, records } = await house(t);
  const get = (url: string, cookie?: string) =>
    app.inject({ method: 'GET', url, headers: cookie ? { cookie } : {} });
  t.equal((await get('/api/board/common-good?period=2025-10')).statusCode, 401, 'not signed in');
  for (const role of ['member', 'facility'] as const) {
    const { cookie } = await signedInMember(app, records, role);
    t.equal(
      (await get('/api/board/common-good?period=2025-10', cookie)).statusCode,
      403,
      `${role}: not for them`,
    );
  }
  const board = (await signedInMember(app, records, 'board')).cookie;
  const response = await get('/api/board/common-good?period=2025-10', board);
  t.equal(response.statusCode, 200, response.body);
  const report = response.json() as CommonGoodReportOut;
  const value = (key: string) => {
    const f = report.figures.find((x) => x.key === key);
    return f && [f.value, f.previous, f.yearBefore];
  };
  // October 2025 has 19 days Tuesday–Friday: public hours 19 × 8 = 152 h, less Wednesday 8 Oct's 2 h
  // members' meeting, plus the open evening 19:30–23:00 (3.5 h; the Friday meeting is within the public
  // hours): 153.5 h. September: 17 Tuesdays–Fridays × 8 = 136 h. October 2024: 19 × 8 = 152 h, nothing booked.
  t.same(value('freePublicHours'), [153.5, 136, 152]);
  // Opening hours: 27 days Monday–Saturday × 13 h = 351 h; public within them 150 + 2.5 (19:30–22:00) = 152.5.
  // 152.5 / 351 = 0.43447…
  t.equal(value('publicShareOfOpening')?.[0], 0.4345);
  // Two public dates held; the members' meeting is no public event.
  t.same(value('eventsHeld'), [2, 0, 0]);
  // The sensor saw the open evening (hours 19 and 20), not the Friday meeting.
  t.same(value('eventsConfirmed'), [1, 0, 0]);
  // Open evening: 41 counted (26 signed up); Friday: 8 counted, no sign-ups. 41 + 8 = 49.
  t.same(value('peopleReached'), [49, 0, 0]);
  t.same(value('signUps'), [26, 0, 0]);
  t.same(value('attendedCounted'), [49, 0, 0]);
  // Allocation, area × hours used: the hall 100 m² × (153.5 free public + 2 h members' meeting) = 15 550;
  // the technical room 10 m² × 745 h (no opening hours: the whole month) = 7 450; the Protel room
  // 20 m² × 50 h booked = 1 000. 15 550 / 24 000 = 0.647916… of 1000 kWh = 647.917 kWh.
  t.equal(value('publicSpaceEnergyKwh')?.[0], 647.917);
  // × 0.40 EUR/kWh = 259.17 EUR.
  t.equal(value('publicSpaceCostEur')?.[0], 259.17);
  // Protel 50 h × 4 EUR = 200 EUR; September: no booking on record yet, so unknown, not 0.
  t.same(value('paidHoursValueEur'), [200, null, null]);
  // 200 / 259.1666… = 0.7717
  t.equal(value('costCarriedShare')?.[0], 0.7717);
  t.same(report.publicSpaces, [{ id: 'saal', name: 'Diskursraum', areaM2: 100 }]);
  t.same(report.basis, { energyEurPerKwh: 0.4, hourPricesEur: { protel: 4 } });

  const events = report.tables.find((x) => x.id === 'events');
  t.same(events?.rows, [
    {
      date: '2025-10-10',
      start: '11:00',
      end: '12:00',
      title: 'Freitagsrunde',
      space: 'Diskursraum',
      signUps: 0,
      attended: 8,
      reached: 8,
      usedHours: 0,
    },
    {
      date: '2025-10-30',
      start: '19:30',
      end: '23:00',
      title: 'Offener Abend',
      space: 'Diskursraum',
      signUps: 26,
      attended: 41,
      reached: 41,
      usedHours: 2,
    },
  ]);
  const body = JSON.stringify(report);
  t.notMatch(body, /@|memberId|organiser/i, 'no person in the report');
});

t.test('CSV of each table, and what cannot be reported', async (t) => {
  const { app, records } = await house(t);
  const admin = (await signedInMember(app, records, 'admin')).cookie;
  const csv = (query: string) =>
    app.inject({ method: 'GET', url: `/api/board/common-good.csv?${query}`, headers: { cookie: admin } });
  const allocation = await csv('period=2025-10&table=allocation');
  t.equal(allocation.statusCode, 200, allocation.body);
  t.equal(allocation.headers['content-type'], 'text/csv; charset=utf-8');
  t.equal(
    allocation.headers['content-disposition'],
    'attachment; filename="wesprint-common-good-2025-10-allocation.csv"',
  );
  const rows = parse(allocation.body, { bom: true, columns: true, delimiter: ';' }) as Record<
    string,
    string
  >[];
  t.same(rows[0], {
    space: 'saal',
    name: 'Diskursraum',
    kind: 'hall',
    areaM2: '100',
    usedHours: '155,5',
    share: '0,6479',
    energyKwh: '647,917',
  });
  t.same(rows[1]?.usedHours, '745', 'the technical room: all 745 hours of October');
  const paid = parse((await csv('period=2025-10&table=paid-hours&lang=en')).body, {
    bom: true,
    columns: true,
  }) as Record<string, string>[];
  t.same(paid, [{ kind: 'protel', bookedHours: '50', priceEur: '4', valueEur: '200' }]);
  t.equal((await csv('period=2025-10&table=nope')).statusCode, 400);
  t.equal((await csv('period=2099-01&table=summary')).statusCode, 400, 'not begun');
  const wrong = await app.inject({
    method: 'GET',
    url: '/api/board/common-good?period=2025-13',
    headers: { cookie: admin },
  });
  t.equal(wrong.statusCode, 400);
});

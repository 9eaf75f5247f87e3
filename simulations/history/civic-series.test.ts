import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { openRecords } from '../../database/database.ts';
import { sqliteRecords } from '../../records/records.ts';
import { loadSite } from '../../site/load.ts';
import { toLocal } from '../../site/local-time.ts';
import { createTestMember } from '../../test-support/members.ts';
import { DEMO_SITE_FILE } from '../demo-site.ts';
import { writeCivicSeries } from './civic-series.ts';

/**
 * The simulated house's civic series on real records: Fridays at 11:00 across the autumn clock change, the
 * last Thursday of a month with five Thursdays (October 2026: the 29th), the monthly workshop, as public
 * events with sign-ups; the dates that are over checked in with the organiser's count; a second run adds
 * nothing.
 */

t.test('the civic series of the Diskursraum', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-civic-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = openRecords(path.join(dir, 'wesprint.db'));
  t.teardown(() => db.close());
  const records = sqliteRecords(db);
  const site = loadSite(DEMO_SITE_FILE);
  const tz = site.site.timezone;
  const { member: organiser } = await createTestMember(db, { role: 'facility' });
  const from = Date.parse('2026-10-01T00:00:00+02:00');
  const now = Date.parse('2026-11-10T12:00:00+01:00');
  const input = {
    site,
    now,
    from,
    organiserId: organiser.id,
    bookings: records.bookingsAt(site.site.id),
    events: records.events,
    signUps: records.signUps,
  };
  const first = await writeCivicSeries(input);
  t.equal(first.series, 3);
  t.equal(first.skipped, 0, 'nothing else held the hall');
  const dates = await records.events.datesWithin({ start: from, end: now + 60 * 86_400_000 }, 'public');
  const of = (title: string) => dates.filter((d) => d.title === title).map((d) => toLocal(d.start, tz));

  const fridays = of('Freitagsrunde');
  t.ok(fridays.length >= 13, `${fridays.length} Fridays`);
  t.ok(
    fridays.every((d) => d.weekday === 5 && d.hour === 11 && d.minute === 0),
    'every Friday at 11:00 local, before and after the clock change on 25 October',
  );
  const evenings = of('Offener Abend');
  t.same(
    evenings.slice(0, 3).map((d) => `${d.month}-${d.day} ${d.hour}:00`),
    ['10-29 19:00', '11-26 19:00', '12-31 19:00'],
    'the last Thursday: 29 October (five Thursdays), 26 November, 31 December',
  );
  const workshops = of('Zukunftswerkstatt');
  t.same(
    workshops.slice(0, 2).map((d) => `${d.month}-${d.day}`),
    ['10-10', '11-14'],
    'the second Saturday',
  );

  // Over by `now`: checked in and counted; ahead within three weeks: sign-ups only.
  const counts = await records.signUps.counts({ start: from, end: now + 60 * 86_400_000 });
  const past = counts.filter((c) => c.end <= now);
  t.ok(past.length > 0 && past.every((c) => c.attended !== null && c.confirmed > 0), 'dates over: counted');
  t.ok(
    counts.filter((c) => c.start > now).every((c) => c.attended === null),
    'dates ahead: no count yet',
  );
  const evening = dates.find((d) => d.title === 'Offener Abend');
  const booked = (await records.bookingsAt(site.site.id).listAll({ start: from, end: now })).filter(
    (b) => b.spaceId === evening?.spaceId && b.end <= now,
  );
  t.ok(booked.length > 0 && booked.every((b) => b.status === 'checked_in'), 'past dates checked in');

  const again = await writeCivicSeries(input);
  t.same(again, { series: 0, dates: 0, skipped: 0, signUps: 0 }, 'a second run adds nothing');
});

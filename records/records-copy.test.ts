import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { planSeries } from '../bookings/series-rules.ts';
import { openRecords } from '../database/database.ts';
import { openPostgresRecords } from '../database/postgres.ts';
import { testPostgres } from '../test-support/postgres.ts';
import { postgresRecords, type Records, sqliteRecords } from './records.ts';
import { copyRecordsToPostgres, RecordsCopyError } from './records-copy.ts';

/**
 * One building's records moved from its SQLite file to PostgreSQL: a real file filled through the real
 * stores, copied into a database of the test's own on this machine's PostgreSQL, and read back through the
 * PostgreSQL stores: the same members (and passwords), sessions, tokens, bookings, series, events, sign-ups,
 * guest keys, audit entries and alerts, under the same ids; what is added afterwards follows on.
 */

// Sunday 13 December 2026, 22:50 in Berlin; the bookings are in the days after.
const NOW = Date.parse('2026-12-13T21:50:00Z');
const HOUR = 3_600_000;
/** The house the building's bookings are of. */
const HOUSE = 'haus';
const PASSWORD = 'ein-langes-passwort-2026';

/** A records file with something in every store, as a building that ran for a while has. */
async function filledFile(t: Test) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-copy-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'wesprint.db');
  const records = sqliteRecords(openRecords(file));
  const { member: ada } = await records.members.create({
    email: 'ada@haus.example',
    role: 'facility',
    name: 'Ada',
    password: PASSWORD,
  });
  const { member: bob } = await records.members.create({ email: 'bob@haus.example', role: 'member' });
  await records.members.setSiteRole(ada.id, 'sued', 'board');
  const session = await records.sessions.start(ada.id, NOW);
  const lobby = await records.lobbyTokens.create('Foyer', NOW);
  const integration = await records.integrationTokens.create(
    { label: 'node-red', scopes: 'readings:read' },
    NOW,
  );
  const calendar = await records.calendarTokens.issue(bob.id, NOW);
  const single = await records
    .bookingsAt(HOUSE)
    .create({ memberId: bob.id, spaceId: 'hall', start: NOW + 12 * HOUR, end: NOW + 14 * HOUR }, NOW);
  if (!single.ok) throw new Error('booking refused');
  const cancelled = await records
    .bookingsAt(HOUSE)
    .create({ memberId: bob.id, spaceId: 'hall', start: NOW + 12 * HOUR, end: NOW + 13 * HOUR }, NOW);
  t.equal(cancelled.ok, false, 'the hall is taken then');
  const plan = planSeries(
    {
      firstDate: { year: 2026, month: 12, day: 18 },
      startMinute: 18 * 60,
      durationMinutes: 120,
      pattern: { every: 'week', interval: 1 },
      end: { count: 3 },
    },
    'Europe/Berlin',
  );
  if (!plan.ok) throw new Error(plan.message);
  const series = await records
    .bookingsAt(HOUSE)
    .createSeries(
      { memberId: ada.id, spaceId: 'hall', rule: plan.rule, occurrences: plan.occurrences },
      'all_or_nothing',
      NOW,
    );
  if (!series.ok) throw new Error('series refused');
  const event = await records.events.create(
    {
      title: 'Zukunftswerkstatt',
      description: '',
      capacity: 20,
      visibility: 'public',
      bookingId: null,
      seriesId: series.series.id,
      organiserId: ada.id,
    },
    NOW,
  );
  const dates = await records.bookingsAt(HOUSE).seriesBookings(series.series.id);
  const firstDate = dates[0];
  if (!firstDate) throw new Error('the series has no dates');
  const signUp = await records.signUps.signUp(
    { eventId: event.id, dateId: firstDate.id, places: 2, email: 'gast@example.org', capacity: 20 },
    NOW,
  );
  if (!signUp.ok) throw new Error('sign-up refused');
  const guest = await records.guestKeys.create(
    { hostId: bob.id, spaceId: 'hall', bookingId: single.booking.id, label: 'Handwerker' },
    NOW,
  );
  for (let i = 0; i < 3; i++)
    await records.audit.record({
      at: NOW + i,
      actor: bob.id,
      action: 'unlock',
      target: 'hall',
      decision: i === 0 ? 'denied' : 'granted',
      reason: i === 0 ? 'no_booking' : null,
      detail: { try: i },
    });
  const co2 = await records.alertsAt(HOUSE).open(
    {
      kind: 'co2_high',
      subject: 'hall',
      space: 'hall',
      device: null,
      since: NOW - HOUR,
      value: 1800,
      unit: 'ppm',
      detail: {},
    },
    NOW,
  );
  await records.alertsAt(HOUSE).acknowledge(co2.alert.id, ada.id, NOW + 1);
  // A member who left: SQLite keeps the flag as 1, PostgreSQL as a boolean.
  const { member: carl } = await records.members.create({ email: 'carl@haus.example', role: 'member' });
  await records.members.setDisabled(carl.id, true);
  const audit = (await records.audit.query({})).entries;
  await records.close();
  return {
    file,
    ada,
    bob,
    carl,
    session,
    lobby,
    integration,
    calendar,
    single: single.booking,
    series: series.series,
    dates,
    event,
    signUp,
    guest,
    audit,
    alert: co2.alert,
  };
}

async function postgresStores(t: Test, url: string): Promise<Records> {
  const records = postgresRecords(await openPostgresRecords(url, { max: 2 }), url);
  t.teardown(() => records.close());
  return records;
}

t.test('the records file copied into PostgreSQL: the same records under the same ids', async (t) => {
  const server = await testPostgres(t);
  if (!server) return;
  const before = await filledFile(t);
  const lines: string[] = [];
  const result = await copyRecordsToPostgres(before.file, server.url, { log: (l) => lines.push(l) });
  const rowsOf = (table: string) => result.tables.find((r) => r.table === table)?.rows;
  t.equal(rowsOf('members'), 3);
  t.equal(rowsOf('bookings'), 4, 'the single booking and the three dates of the series');
  t.equal(rowsOf('audit_log'), 3);
  t.ok(
    lines.some((l) => l.startsWith('guest_keys: 1')),
    lines.join('\n'),
  );

  const pg = await postgresStores(t, server.url);
  server.closeFirst(() => pg.close());
  t.match(await pg.members.verify('ada@haus.example', PASSWORD), { id: before.ada.id, role: 'facility' });
  t.equal(await pg.members.findActive(before.carl.id), undefined, 'who left stays disabled');
  t.ok(await pg.members.findActive(before.bob.id), 'who did not, not');
  t.same((await pg.members.findActive(before.ada.id))?.siteRoles, { sued: 'board' }, 'roles per site');
  t.match(await pg.sessions.resolve(before.session.token, NOW + 60_000), { id: before.ada.id }, 'signed in');
  t.ok(await pg.lobbyTokens.verify(before.lobby.token), 'the lobby screen keeps its token');
  t.match(await pg.integrationTokens.resolve(before.integration.secret, NOW), {
    id: before.integration.token.id,
    label: 'node-red',
  });
  t.match(await pg.bookingsAt(HOUSE).get(before.single.id), {
    memberId: before.bob.id,
    start: before.single.start,
    end: before.single.end,
    status: 'booked',
  });
  t.same(
    (await pg.bookingsAt(HOUSE).seriesBookings(before.series.id)).map((b) => b.id),
    before.dates.map((b) => b.id),
    "the series' dates",
  );
  t.match(await pg.events.get(before.event.id), { title: 'Zukunftswerkstatt', seriesId: before.series.id });
  t.match(await pg.signUps.byToken(before.signUp.cancelToken), { places: 2, status: 'confirmed' });
  t.match(await pg.guestKeys.byToken(before.guest.token), { id: before.guest.key.id, label: 'Handwerker' });
  t.same((await pg.audit.query({})).entries, before.audit, 'the audit log, entry for entry, seq and all');
  t.match(await pg.alertsAt(HOUSE).get(before.alert.id), {
    kind: 'co2_high',
    acknowledged: { by: before.ada.id, name: 'Ada' },
  });

  // What is added now follows on, and the guarantees hold on the copied rows.
  const next = await pg.audit.record({
    at: NOW + 10,
    actor: null,
    action: 'copy_check',
    target: null,
    decision: 'granted',
    reason: null,
    detail: {},
  });
  t.ok(next.seq > Math.max(...before.audit.map((e) => e.seq)), `the next entry follows on (${next.seq})`);
  await t.rejects(
    server.pool(1).query('UPDATE audit_log SET action = $1', ['changed']),
    /append-only/,
    'copied entries cannot be changed',
  );
  const taken = await pg
    .bookingsAt(HOUSE)
    .create(
      { memberId: before.bob.id, spaceId: 'hall', start: before.single.start, end: before.single.end },
      NOW,
    );
  t.equal(taken.ok, false, 'a copied booking still holds its time');
  const again = await pg.alertsAt(HOUSE).open(
    {
      kind: 'night_base_load',
      subject: 'haus',
      space: null,
      device: null,
      since: NOW,
      value: 900,
      unit: 'W',
      detail: {},
    },
    NOW + 5,
  );
  t.ok(again.alert.id > before.alert.id, 'a new alert gets a new id');

  // A second copy into the same database: refused, nothing changed.
  await t.rejects(copyRecordsToPostgres(before.file, server.url), RecordsCopyError);
  await t.rejects(copyRecordsToPostgres(before.file, server.url), /is not empty: .*members \(3\)/);
  t.equal(await pg.members.count(), 3);
});

t.test('a records file that is not there is not made', async (t) => {
  const server = await testPostgres(t);
  if (!server) return;
  const file = path.join(os.tmpdir(), `wesprint-none-${process.pid}`, 'wesprint.db');
  await t.rejects(copyRecordsToPostgres(file, server.url), /no records file there/);
  t.notOk(fs.existsSync(file));
});

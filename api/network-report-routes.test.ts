import path from 'node:path';
import { parse } from 'csv-parse/sync';
import t, { type Test } from 'tap';
import type { Role } from '../access/roles.ts';
import type { BookingStatus } from '../bookings/booking-store.ts';
import { SqliteBookingStore } from '../bookings/sqlite-booking-store.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import { SqliteMemberStore } from '../members/sqlite-member-store.ts';
import type { NetworkReportOut } from '../reports/network-report-schema.ts';
import { octoberBuilding, werkHaus, werkReadings } from '../reports/test-october.ts';
import { siteReadings } from '../storage/site-view.ts';
import { createTestMember, signIn } from '../test-support/members.ts';
import { buildApi } from './app.ts';

/**
 * The network report over the real API: two houses in one SQLite store (the October building, which this
 * API serves and whose bookings the records hold, and the workshop beside it, test-october.ts); who may read
 * it (board or admin in every house), the refusals in the audit log, the figures and the CSV read back.
 */

const NOW = Date.parse('2026-11-23T12:00:00Z');

async function networkApi(t: Test) {
  const building = await octoberBuilding(t);
  await building.store.write(werkReadings());
  const quarantine = new Quarantine(path.join(building.dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  const feed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site: building.site });
  const app = await buildApi({
    ...building,
    store: siteReadings(building.store, building.site.site.id),
    network: { sites: [building.site, werkHaus()], store: building.store },
    feed,
    quarantine,
    now: () => NOW,
  });
  t.teardown(() => app.close());
  const members = new SqliteMemberStore(building.records);
  const person = async (role: Role, homeSite: string, elsewhere?: Role) => {
    const created = await createTestMember(building.records, { role, homeSite });
    const other = homeSite === 'werk-haus' ? 'bericht-haus' : 'werk-haus';
    if (elsewhere) await members.setSiteRole(created.member.id, other, elsewhere);
    return { ...created, cookie: await signIn(app, created.member.email, created.password) };
  };
  const get = (url: string, cookie?: string) =>
    app.inject({ method: 'GET', url, headers: cookie ? { cookie } : {} });
  return { app, records: building.records, person, get };
}

t.test('who reads the network report: the board of every house', async (t) => {
  const n = await networkApi(t);
  const url = '/api/network/report?period=2025-10';
  t.equal((await n.get(url)).statusCode, 401, 'not signed in');
  const everywhere = await n.person('board', 'bericht-haus', 'board');
  t.equal((await n.get(url, everywhere.cookie)).statusCode, 200, 'board here and in the workshop');
  // Admin at home in the workshop, board here: seen here as board, at home still admin.
  const fromWerk = await n.person('admin', 'werk-haus', 'board');
  t.equal((await n.get(url, fromWerk.cookie)).statusCode, 200, 'admin of the workshop, board here');

  const hereOnly = await n.person('board', 'bericht-haus');
  const refused = await n.get(url, hereOnly.cookie);
  t.equal(refused.statusCode, 403, "this house's board does not read its neighbours'");
  t.match(refused.json().message, /not on the board in werk-haus/);
  t.equal((await n.get(`${url.replace('report?', 'report.csv?')}`, hereOnly.cookie)).statusCode, 403);
  const werkOnly = await n.person('board', 'werk-haus');
  t.equal((await n.get(url, werkOnly.cookie)).statusCode, 403, "the workshop's board: a plain member here");
  const facility = await n.person('facility', 'bericht-haus', 'facility');
  t.equal((await n.get(url, facility.cookie)).statusCode, 403, 'facility managers of both houses: no');
  const member = await n.person('member', 'bericht-haus');
  t.equal((await n.get(url, member.cookie)).statusCode, 403);

  const audited = n.records
    .prepare(
      "SELECT actor, reason, detail FROM audit_log WHERE action = 'network_report' AND decision = 'denied' ORDER BY seq",
    )
    .all() as { actor: string; reason: string; detail: string }[];
  t.same(
    audited.map((a) => [a.actor, a.reason, JSON.parse(a.detail).missing]),
    [
      [hereOnly.member.id, 'not_network_board', ['werk-haus']],
      [hereOnly.member.id, 'not_network_board', ['werk-haus']],
    ],
    'the handler’s refusals are in the audit log, with the houses missing',
  );
});

t.test('the figures side by side, the total, and the CSV read back', async (t) => {
  const n = await networkApi(t);
  const board = await n.person('board', 'bericht-haus', 'board');
  const response = await n.get('/api/network/report?period=2025-10', board.cookie);
  t.equal(response.statusCode, 200, response.body);
  const report = response.json() as NetworkReportOut;
  t.same(
    report.houses.map((h) => [
      h.site.id,
      h.bookingsKnown,
      h.figures.find((f) => f.key === 'energyKwh')?.value,
    ]),
    [
      ['bericht-haus', true, 300],
      ['werk-haus', false, 600],
    ],
  );
  t.same(
    report.total.figures.find((f) => f.key === 'energyKwh'),
    {
      key: 'energyKwh',
      unit: 'kWh',
      value: 900,
      coverage: 0.004,
    },
  );
  t.equal(report.total.areaM2, 1100);

  t.equal((await n.get('/api/network/report?period=2026-12', board.cookie)).statusCode, 400, 'not begun');
  t.equal((await n.get('/api/network/report?period=Oktober', board.cookie)).statusCode, 400);

  const quarter = await n.get('/api/network/report.csv?period=2025-q4', board.cookie);
  t.equal(quarter.statusCode, 200, quarter.body);
  t.match(quarter.headers['content-disposition'], /wesprint-network-2025-Q4-network-figures\.csv/);
  const de = await n.get('/api/network/report.csv?period=2025-10', board.cookie);
  t.ok(de.body.startsWith('\uFEFF'), 'BOM for Excel');
  const rows = parse(de.body.slice(1), { delimiter: ';', columns: true }) as Record<string, string>[];
  t.equal(rows.length, 33, 'two houses and the network, 11 figures each');
  t.match(
    rows.find((r) => r.scope === 'network' && r.figure === 'co2LocationKg'),
    { value: '322,8', site: '' },
  );
  const en = await n.get('/api/network/report.csv?period=2025-10&lang=en', board.cookie);
  const enRows = parse(en.body.slice(1), { columns: true }) as Record<string, string>[];
  t.match(
    enRows.find((r) => r.site === 'werk-haus' && r.figure === 'goodAirShare'),
    {
      name: 'Werkhaus',
      value: '0.3333',
      coverage: '0.0027',
    },
  );
});

t.test('the site switch: the houses and the caller’s role in each, another house’s own report', async (t) => {
  const n = await networkApi(t);
  const both = await n.person('board', 'bericht-haus', 'facility');
  const sites = await n.get('/api/network/sites', both.cookie);
  t.equal(sites.statusCode, 200);
  t.same(sites.json(), {
    sites: [
      { id: 'bericht-haus', name: 'Berichtshaus', role: 'board', here: true },
      { id: 'werk-haus', name: 'Werkhaus', role: 'facility', here: false },
    ],
  });
  t.equal((await n.get('/api/network/sites')).statusCode, 401);

  const werk = await n.get('/api/network/houses/werk-haus/report?period=2025-10', both.cookie);
  t.equal(werk.statusCode, 200, werk.body);
  const report = werk.json() as { site: { id: string }; figures: { key: string; value: number | null }[] };
  t.equal(report.site.id, 'werk-haus');
  t.equal(report.figures.find((f) => f.key === 'energyKwh')?.value, 600, "the workshop's own meters");
  t.equal(report.figures.find((f) => f.key === 'bookedHours')?.value, null, 'no booking of it on record');
  const here = await n.get('/api/network/houses/bericht-haus/report?period=2025-10', both.cookie);
  t.equal(here.json().figures.find((f: { key: string }) => f.key === 'energyKwh')?.value, 300);
  const csv = await n.get(
    '/api/network/houses/werk-haus/report.csv?period=2025-10&table=energy-by-meter',
    both.cookie,
  );
  t.equal(csv.statusCode, 200);
  t.match(csv.body, /meter-main;technik;main;440;1/);

  const hereOnly = await n.person('board', 'bericht-haus');
  const refused = await n.get('/api/network/houses/werk-haus/report?period=2025-10', hereOnly.cookie);
  t.equal(refused.statusCode, 403, 'no role in the workshop');
  t.equal((await n.get('/api/network/houses/nirgendwo/report?period=2025-10', both.cookie)).statusCode, 404);
  const memberHere = await n.person('member', 'bericht-haus', 'board');
  t.equal(
    (await n.get('/api/network/houses/werk-haus/report?period=2025-10', memberHere.cookie)).statusCode,
    403,
    'board there but a plain member here: this API does not serve them reports',
  );
  const audited = n.records
    .prepare("SELECT actor, target, reason FROM audit_log WHERE action = 'board_report' ORDER BY seq")
    .all();
  t.same(audited, [{ actor: hereOnly.member.id, target: 'werk-haus', reason: 'no_role_there' }]);
});

t.test(
  'each house its own bookings, though both have a desk-1 and a room-1 booked at the same times',
  async (t) => {
    const n = await networkApi(t);
    const board = await n.person('board', 'bericht-haus', 'board');
    const { member } = await createTestMember(n.records, { role: 'member', homeSite: 'werk-haus' });
    // The workshop's October, on the spaces whose ids the October building also has (its bookings are in
    // test-october.ts: desk-1 9 h booked, 7 h used, 1 of 3 a no-show; room-1 2 h), partly at the same times.
    const booking = (id: string, space: string, start: string, end: string, status: BookingStatus) => ({
      id,
      memberId: member.id,
      spaceId: space,
      start: Date.parse(start),
      end: Date.parse(end),
      status,
      checkedInAt: status === 'checked_in' ? Date.parse(start) + 60_000 : null,
      releasedAt: status === 'released' ? Date.parse(start) + 15 * 60_000 : null,
      cancelledAt: status === 'cancelled' ? Date.parse(start) - 3_600_000 : null,
      createdAt: Date.parse(start) - 86_400_000,
    });
    const werk = [
      // The same three hours as the October building's used desk: 3 h used.
      booking('w1', 'desk-1', '2025-10-06T09:00:00+02:00', '2025-10-06T12:00:00+02:00', 'checked_in'),
      // The October building's no-show slot, used here: 2 h used.
      booking('w2', 'desk-1', '2025-10-07T09:00:00+02:00', '2025-10-07T11:00:00+02:00', 'checked_in'),
      // A no-show of 2 h.
      booking('w3', 'desk-1', '2025-10-10T08:00:00+02:00', '2025-10-10T10:00:00+02:00', 'released'),
      // Cancelled: not counted.
      booking('w4', 'desk-1', '2025-10-09T09:00:00+02:00', '2025-10-09T10:00:00+02:00', 'cancelled'),
      // The meeting room, over the October building's 10–12 on the same day: 5 h (no sensor).
      booking('w5', 'room-1', '2025-10-20T10:00:00+02:00', '2025-10-20T15:00:00+02:00', 'booked'),
    ];
    t.same(
      await new SqliteBookingStore(n.records, 'werk-haus').importBookings(werk),
      { added: 5, existing: 0, refused: 0 },
      'no booking of the workshop is in the way of one of the October building',
    );

    const response = await n.get('/api/network/report?period=2025-10', board.cookie);
    t.equal(response.statusCode, 200, response.body);
    const report = response.json() as NetworkReportOut;
    const figure = (figures: { key: string; value: number | null }[], key: string) =>
      figures.find((f) => f.key === key)?.value;
    const house = (id: string) => report.houses.find((h) => h.site.id === id)?.figures ?? [];
    t.same(
      report.houses.map((h) => [h.site.id, h.bookingsKnown]),
      [
        ['bericht-haus', true],
        ['werk-haus', true],
      ],
    );
    // By hand. October building (unchanged): 9 h on the desk + 2 h in the room = 11 h of 975 opening hours;
    // 7 of the desk's 9 h used; 1 no-show of 3 desk bookings started; 300 kWh / 9 desk-hours.
    t.equal(figure(house('bericht-haus'), 'bookedHours'), 11);
    t.equal(figure(house('bericht-haus'), 'usedShareOfBooked'), 0.7778);
    t.equal(figure(house('bericht-haus'), 'noShowRate'), 0.3333);
    t.equal(figure(house('bericht-haus'), 'energyPerBookedDeskHourKwh'), 33.3333);
    // Workshop: the desk 3 + 2 + 2 = 7 h, the room 5 h: 12 h; 12 / 975 = 0.0123; 5 of the desk's 7 h used
    // (0.7143; the room has no sensor); 1 no-show of 3 started; 600 kWh / 7 desk-hours = 85.7143.
    t.equal(figure(house('werk-haus'), 'bookedHours'), 12);
    t.equal(figure(house('werk-haus'), 'availableHours'), 975);
    t.equal(figure(house('werk-haus'), 'bookedShare'), 0.0123);
    t.equal(figure(house('werk-haus'), 'usedShareOfBooked'), 0.7143);
    t.equal(figure(house('werk-haus'), 'noShowRate'), 0.3333);
    t.equal(figure(house('werk-haus'), 'energyPerBookedDeskHourKwh'), 85.7143);
    // The network: 11 + 12 = 23 h of 1950 (0.0118); (7 + 5) / (9 + 7) = 0.75 used; (1 + 1) / (3 + 3) no-shows;
    // (300 + 600) kWh / (9 + 7) desk-hours = 56.25.
    const total = report.total.figures;
    t.equal(figure(total, 'bookedHours'), 23);
    t.equal(figure(total, 'bookedShare'), 0.0118);
    t.equal(figure(total, 'usedShareOfBooked'), 0.75);
    t.equal(figure(total, 'noShowRate'), 0.3333);
    t.equal(figure(total, 'energyPerBookedDeskHourKwh'), 56.25);

    // The workshop's own report (the site switch) reads the same bookings; this house's report its own.
    const both = await n.person('board', 'bericht-haus', 'facility');
    const own = await n.get('/api/network/houses/werk-haus/report?period=2025-10', both.cookie);
    t.equal(figure(own.json().figures, 'bookedHours'), 12);
    const here = await n.get('/api/board/report?period=2025-10', board.cookie);
    t.equal(figure(here.json().figures, 'bookedHours'), 11, "the October building's 11 h, not 23");
  },
);

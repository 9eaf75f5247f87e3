import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import { BuildingFeed } from '../building/live-feed.ts';
import type { RecordsDb } from '../database/database.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import type { BoardReportOut } from '../reports/board-report-schema.ts';
import { octoberBuilding } from '../reports/test-october.ts';
import { signedInMember } from '../test-support/members.ts';
import { buildApi } from './app.ts';

/**
 * The board report over the real API: sign-in and roles, the JSON figures of October 2025 in the written
 * building (test-october.ts) checked against hand-computed numbers, and every CSV read back with a CSV parser.
 */

async function reportApi(
  t: Test,
): Promise<{ app: FastifyInstance; records: RecordsDb; board: string; member: string }> {
  const building = await octoberBuilding(t);
  const quarantine = new Quarantine(path.join(building.dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  // Never started: the report does not read the live feed.
  const feed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site: building.site });
  const app = await buildApi({ ...building, feed, quarantine });
  t.teardown(() => app.close());
  const board = (await signedInMember(app, building.records, 'board')).cookie;
  const member = (await signedInMember(app, building.records, 'member')).cookie;
  return { app, records: building.records, board, member };
}

t.test('the JSON report of October 2025, for the board', async (t) => {
  const { app, records, board, member } = await reportApi(t);
  const get = (url: string, cookie?: string) =>
    app.inject({ method: 'GET', url, headers: cookie ? { cookie } : {} });

  t.equal((await get('/api/board/report?period=2025-10')).statusCode, 401, 'not signed in');
  t.equal(
    (await get('/api/board/report?period=2025-10', member)).statusCode,
    403,
    'a member is not the board',
  );

  const response = await get('/api/board/report?period=2025-10', board);
  t.equal(response.statusCode, 200, response.body);
  const report = response.json() as BoardReportOut;
  const value = (key: string) => {
    const f = report.figures.find((x) => x.key === key);
    return f && [f.value, f.previous, f.yearBefore];
  };
  // Main meters 220 + 80 kWh across meter-main's restart; September 100; nothing in October 2024.
  t.same(value('energyKwh'), [300, 100, null]);
  // 300 × 365 / 31 / 900 m²
  t.same(value('energyKwhPerM2Annualised'), [3.925, 1.352, null]);
  // 350 g/kWh from the site file for 2025; 380 g/kWh supplier.
  t.same(value('co2LocationKg'), [105, 35, null]);
  t.same(value('co2MarketKg'), [114, 38, null]);
  t.same(value('noShowRate'), [0.3333, 0, null]);
  t.same(value('goodAirShare'), [0.6667, null, null]);
  t.equal(report.factors.locationYear, 2025);
  t.equal(report.period.from, '2025-09-30T22:00:00.000Z');
  t.equal(report.tables.find((x) => x.id === 'energy-by-meter')?.rows[0]?.counterResets, 1);
  for (const role of ['facility', 'admin'] as const) {
    const { cookie } = await signedInMember(app, records, role);
    t.equal((await get('/api/board/report?period=2025-Q4', cookie)).statusCode, 200, `${role} reads it too`);
  }
});

t.test('periods that cannot be reported are refused with what to change', async (t) => {
  const { app, board } = await reportApi(t);
  const get = async (query: string) => {
    const response = await app.inject({
      method: 'GET',
      url: `/api/board/report?${query}`,
      headers: { cookie: board },
    });
    return { status: response.statusCode, message: (response.json() as { message: string }).message };
  };
  const wrong = await get('period=2025-13');
  t.equal(wrong.status, 400);
  t.match(wrong.message, /month must be 01/);
  const shape = await get('period=Oktober');
  t.equal(shape.status, 400);
  t.match(shape.message, /2026-10.*2026-Q4.*2026/);
  const future = await get('period=2999-01');
  t.equal(future.status, 400);
  t.match(future.message, /has not begun/);
  t.equal((await get('')).status, 400, 'period is required');
});

t.test('each table as CSV: UTF-8 with BOM, German by default, read back by a CSV parser', async (t) => {
  const { app, board, member } = await reportApi(t);
  const csv = (query: string, cookie = board) =>
    app.inject({ method: 'GET', url: `/api/board/report.csv?${query}`, headers: { cookie } });

  t.equal((await csv('period=2025-10&table=summary', member)).statusCode, 403);

  const byDay = await csv('period=2025-10&table=energy-by-day');
  t.equal(byDay.statusCode, 200, byDay.body);
  t.equal(byDay.headers['content-type'], 'text/csv; charset=utf-8');
  t.equal(
    byDay.headers['content-disposition'],
    'attachment; filename="wesprint-report-2025-10-energy-by-day.csv"',
  );
  t.equal(byDay.rawPayload.subarray(0, 3).toString('hex'), 'efbbbf', 'starts with the UTF-8 BOM');
  const days = parse(byDay.body, { bom: true, columns: true, delimiter: ';' }) as Record<string, string>[];
  t.equal(days.length, 31);
  t.same(days[0], { date: '2025-10-01', energyKwh: '10' });
  t.same(days[1], { date: '2025-10-02', energyKwh: '' }, 'a day without data is empty, not 0');
  t.same(days[14], { date: '2025-10-15', energyKwh: '110' });

  // German: `;` and decimal commas, umlauts intact.
  const summary = parse((await csv('period=2025-10&table=summary')).body, {
    bom: true,
    columns: true,
    delimiter: ';',
  }) as Record<string, string>[];
  t.same(
    summary.find((r) => r.figure === 'energyKwhPerM2Annualised'),
    {
      figure: 'energyKwhPerM2Annualised',
      unit: 'kWh/m²·a',
      value: '3,925',
      previous: '1,352',
      yearBefore: '',
    },
  );
  const air = parse((await csv('period=2025-10&table=air-quality')).body, {
    bom: true,
    columns: true,
    delimiter: ';',
  }) as Record<string, string>[];
  t.same(air[0], {
    space: 'cafe',
    name: 'Café Größe',
    occupiedHours: '2',
    goodAirHours: '1',
    goodAirShare: '0,5',
    meanCo2Ppm: '975',
  });

  // English: `,` and decimal points.
  const english = parse((await csv('period=2025-10&table=space-use&lang=en')).body, {
    bom: true,
    columns: true,
  }) as Record<string, string>[];
  t.same(english[0], {
    kind: 'desk',
    spaces: '1',
    availableHours: '230',
    bookedHours: '9',
    bookedShare: '0.0391',
    usedHours: '7',
    usedShareOfBooked: '0.7778',
    bookingsStarted: '3',
    noShows: '1',
    noShowRate: '0.3333',
  });

  for (const table of ['energy-by-meter', 'space-use-by-space']) {
    const response = await csv(`period=2025-10&table=${table}&lang=en`);
    t.equal(response.statusCode, 200, table);
    t.ok((parse(response.body, { bom: true, columns: true }) as unknown[]).length > 0, `${table} has rows`);
  }
  t.equal((await csv('period=2025-10&table=nonsense')).statusCode, 400, 'unknown table');
  t.equal((await csv('period=2025-10')).statusCode, 400, 'table is required');
});

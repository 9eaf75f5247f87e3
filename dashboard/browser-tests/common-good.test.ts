import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import t from 'tap';
import { SqliteBookingStore } from '../../bookings/sqlite-booking-store.ts';
import { readSettings } from '../../cli/settings.ts';
import { openRecords } from '../../database/database.ts';
import { SqliteEventStore } from '../../events/sqlite-event-store.ts';
import { SqliteSignUpStore } from '../../events/sqlite-signup-store.ts';
import type { CommonGoodReportOut } from '../../reports/common-good-schema.ts';
import { loadSite } from '../../site/load.ts';
import { addDays, fromLocal, isoWeekday, toLocal } from '../../site/local-time.ts';
import { SqliteStore } from '../../storage/sqlite-store.ts';
import type { StoredReading } from '../../storage/store.ts';
import { openBrowser, saveScreenshot, signedInPage } from '../../test-support/browser.ts';
import { startRunningSystem } from '../../test-support/running-system.ts';
import { formatCommonGood } from '../src/pages/common-good/common-good-numbers.ts';

/**
 * The common-good report in real Chromium on the running system: last month's main meters in the store, an
 * open evening in the Diskursraum with sign-ups and the organiser's count in the records. The page shows
 * the API's figures as its number rules write them, never a name; its CSV links download the tables;
 * members and the facility manager are kept out; it prints as an A4 PDF; it speaks English on request.
 */

const HOUR_MS = 3_600_000;
const PDF_FILE = path.resolve(import.meta.dirname, '../../test-output/common-good.pdf');

t.test('the common-good report: figures, CSV, who may read it, print, English', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const site = loadSite(readSettings({}).siteFile);
  const tz = site.site.timezone;
  const hall = site.spaces.find((s) => (s.public_hours?.length ?? 0) > 0);
  if (!hall) throw new Error('the demo site has no public space');

  // The last month that has ended, by the test's clock (faketime's in CI), in the site's zone.
  const today = toLocal(Date.now(), tz);
  const index = today.year * 12 + today.month - 2;
  const m = { year: Math.floor(index / 12), month: (index % 12) + 1 };
  const label = `${m.year}-${String(m.month).padStart(2, '0')}`;
  const from = fromLocal({ ...m, day: 1 }, 0, tz);
  const to = fromLocal({ year: today.year, month: today.month, day: 1 }, 0, tz);
  // Its second Thursday: the open evening 19:30–23:00, past the hall's closing at 22:00.
  let thursday = { ...m, day: 1 };
  while (isoWeekday(thursday) !== 4) thursday = addDays(thursday, 1);
  thursday = addDays(thursday, 7);
  const evening = { start: fromLocal(thursday, 19 * 60 + 30, tz), end: fromLocal(thursday, 23 * 60, tz) };

  const meters = site.devices.filter((d) => d.meter_role === 'main');
  const readings: StoredReading[] = [];
  for (const [i, meter] of meters.entries()) {
    for (let ts = from - HOUR_MS, counter = 1000; ts < to; ts += HOUR_MS, counter += 2 + i) {
      readings.push({
        site: site.site.id,
        space: meter.space,
        device: meter.id,
        channel: '0',
        quantity: 'energy',
        value: counter,
        unit: 'kWh',
        ts,
      });
    }
  }
  const system = await startRunningSystem({
    async prepare(dataDir) {
      const store = new SqliteStore({ file: path.join(dataDir, 'readings.db') });
      try {
        for (let i = 0; i < readings.length; i += 2000) await store.write(readings.slice(i, i + 2000));
      } finally {
        await store.close();
      }
    },
  });
  t.teardown(() => system.stop());

  const records = openRecords(path.join(system.dataDir, 'wesprint.db'));
  try {
    const staff = records.prepare("SELECT id FROM members WHERE role = 'facility' LIMIT 1").get() as {
      id: string;
    };
    const bookingId = randomUUID();
    const imported = await new SqliteBookingStore(records, site.site.id).importBookings([
      {
        id: bookingId,
        memberId: staff.id,
        spaceId: hall.id,
        start: evening.start,
        end: evening.end,
        status: 'checked_in',
        checkedInAt: evening.start,
        releasedAt: null,
        cancelledAt: null,
        createdAt: evening.start - 7 * 86_400_000,
      },
    ]);
    t.equal(imported.added, 1, 'the open evening is booked');
    const event = await new SqliteEventStore(records).create({
      title: 'Offener Abend',
      description: 'Jeden letzten Donnerstag',
      capacity: 30,
      visibility: 'public',
      bookingId,
      seriesId: null,
      organiserId: staff.id,
    });
    const signUps = new SqliteSignUpStore(records);
    for (const [places, email] of [
      [10, 'ada@example.org'],
      [8, null],
      [5, 'grace@example.org'],
    ] as const)
      await signUps.signUp(
        { eventId: event.id, dateId: bookingId, places, email, capacity: 30 },
        evening.start - 86_400_000,
      );
    await signUps.recordAttendance(event.id, bookingId, 35, staff.id, evening.end);
  } finally {
    records.close();
  }

  // A member and the facility manager: a clear refusal, no figures.
  for (const role of ['member', 'facility'] as const) {
    const { page } = await signedInPage(browser, system.httpUrl, system.person(role));
    await page.goto(`${system.httpUrl}/board/common-good?period=${label}`);
    await page.getByRole('alert').filter({ hasText: 'vorbehalten' }).waitFor();
    t.equal(await page.locator('[data-figure]').count(), 0, `${role}: no figure`);
  }

  // The board.
  const { page, errors } = await signedInPage(browser, system.httpUrl, system.person('board'));
  await page.goto(`${system.httpUrl}/board/common-good?period=${label}`);
  await page.locator('[data-figure="peopleReached"]').waitFor();
  const answer = await page.request.get(`${system.httpUrl}/api/board/common-good?period=${label}`);
  t.equal(answer.status(), 200);
  const report = (await answer.json()) as CommonGoodReportOut;
  const figure = (key: string) => report.figures.find((f) => f.key === key);
  t.equal(figure('eventsHeld')?.value, 1, 'one public event held');
  t.equal(figure('peopleReached')?.value, 35, 'the organiser counted 35');
  t.equal(figure('signUps')?.value, 23, '10 + 8 + 5 places signed up');
  const kwh = meters.reduce((sum, _m, i) => sum + (2 + i) * ((to - from) / HOUR_MS), 0);
  const energy = figure('publicSpaceEnergyKwh')?.value ?? 0;
  t.ok(energy > 0 && energy < kwh, `the Diskursraum's share (${energy} kWh) of the ${kwh} kWh measured`);

  const words = { hours: 'Std.' };
  for (const f of report.figures) {
    const card = page.locator(`[data-figure="${f.key}"]`);
    const shown = (v: number | null) => formatCommonGood(v, f.unit, 'de-DE', words, 'keine Daten');
    t.equal(await card.locator('.value').textContent(), shown(f.value), `${f.key}: value`);
    t.equal(
      await card.locator('.previous .reference').textContent(),
      shown(f.previous),
      `${f.key}: previous`,
    );
    t.equal(
      await card.locator('.year-before .reference').textContent(),
      shown(f.yearBefore),
      `${f.key}: year before`,
    );
  }
  const text = (await page.locator('main').textContent()) ?? '';
  t.notMatch(text, /ada@|grace@|example\.org/, 'no visitor on the page');
  await saveScreenshot(page, 'common-good-screen');

  for (const table of report.tables) {
    const section = page.locator(`[data-table="${table.id}"]`);
    t.equal(await section.locator('tbody tr').count(), table.rows.length, `${table.id}: every row`);
    t.equal(
      await section.getByRole('link').getAttribute('href'),
      `/api/board/common-good.csv?period=${label}&table=${table.id}&lang=de`,
      `${table.id}: CSV link`,
    );
  }
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('[data-table="events"]').getByRole('link').click(),
  ]);
  const csv = parse(fs.readFileSync(await download.path(), 'utf8'), {
    bom: true,
    delimiter: ';',
    columns: true,
  }) as Record<string, string>[];
  t.equal(csv.length, 1);
  t.match(csv[0], {
    title: 'Offener Abend',
    start: '19:30',
    end: '23:00',
    signUps: '23',
    attended: '35',
    reached: '35',
  });

  // Print: no buttons or links, A4.
  await page.emulateMedia({ media: 'print' });
  t.notOk(await page.getByRole('button', { name: 'Drucken / PDF' }).isVisible(), 'no print button on paper');
  t.notOk(await page.getByRole('link', { name: /CSV/ }).first().isVisible(), 'no download links');
  fs.mkdirSync(path.dirname(PDF_FILE), { recursive: true });
  const pdf = await page.pdf({ path: PDF_FILE, format: 'A4' });
  t.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-', 'a PDF');
  await page.emulateMedia({ media: 'screen' });

  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await page.getByRole('heading', { level: 1 }).filter({ hasText: 'Common-good report' }).waitFor();
  const reached = figure('peopleReached');
  t.equal(
    await page.locator('[data-figure="peopleReached"] .value').textContent(),
    formatCommonGood(reached?.value ?? null, 'count', 'en-GB', { hours: 'h' }),
    'in English',
  );
  t.same(errors, [], 'no errors in the page');
});

import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import t from 'tap';
import { SqliteBookingStore } from '../../bookings/sqlite-booking-store.ts';
import { readSettings } from '../../cli/settings.ts';
import { openRecords } from '../../database/database.ts';
import type { BoardReportOut } from '../../reports/board-report-schema.ts';
import { loadSite } from '../../site/load.ts';
import { fromLocal, toLocal } from '../../site/local-time.ts';
import { SqliteStore } from '../../storage/sqlite-store.ts';
import type { StoredReading } from '../../storage/store.ts';
import { newPage, openBrowser, saveScreenshot, signedInPage, VIEWPORTS } from '../../test-support/browser.ts';
import { startRunningSystem } from '../../test-support/running-system.ts';
import {
  figureChange,
  formatCoverage,
  formatFigure,
  formatTableNumber,
  partialCoverage,
  type UnitWords,
} from '../src/pages/board/report-numbers.ts';

/**
 * The board report in real Chromium on the running system, after the records and the store have been given
 * a few months of history: the page shows the API's figures as the report's number rules format them, its
 * CSV links download the tables, members are kept out, and it prints as an A4 PDF.
 */

const HOUR_MS = 3_600_000;
const PDF_FILE = path.resolve(import.meta.dirname, '../../test-output/board-report.pdf');
const FIGURES_SHOT = path.resolve(
  import.meta.dirname,
  '../../test-output/screenshots/board-report-figures-partial-year-before.png',
);
/** The page's German unit words (board-texts.ts). */
const GERMAN_UNITS: UnitWords = {
  kwh: 'kWh',
  kwhPerM2a: 'kWh/m²·a',
  kg: 'kg',
  t: 't',
  kwhPerDeskHour: 'kWh/Platzstunde',
  hours: 'Std.',
  percentPoints: 'Pp.',
};

interface Month {
  label: string;
  from: number;
  to: number;
}

function monthOf(year: number, month: number, timeZone: string): Month {
  const next = month === 12 ? { year: year + 1, month: 1 } : { year, month: month + 1 };
  return {
    label: `${year}-${String(month).padStart(2, '0')}`,
    from: fromLocal({ year, month, day: 1 }, 0, timeZone),
    to: fromLocal({ ...next, day: 1 }, 0, timeZone),
  };
}

function monthBefore(year: number, month: number, by: number): { year: number; month: number } {
  const index = year * 12 + month - 1 - by;
  return { year: Math.floor(index / 12), month: (index % 12) + 1 };
}

/**
 * Hourly counter readings of each main meter over the months, on the hour; `resetAt` restarts one meter's
 * counter at 0 (a reboot), after which the new value counts as consumed. Returns the readings and the kWh
 * consumed per month label, as the meters' counters say.
 */
function meterHistory(
  site: string,
  meters: { id: string; space: string }[],
  months: Month[],
  reset: { meter: string; at: number },
): { readings: StoredReading[]; kwh: Map<string, number> } {
  const readings: StoredReading[] = [];
  const kwh = new Map<string, number>();
  for (const [m, meter] of meters.entries()) {
    let counter = 10_000 + 1000 * m;
    // One reading an hour before the first month, so that its first hour has a counter to start from.
    const first = Math.min(...months.map((month) => month.from));
    readings.push({
      site,
      space: meter.space,
      device: meter.id,
      channel: '0',
      quantity: 'energy',
      value: counter,
      unit: 'kWh',
      ts: first - HOUR_MS,
    });
    for (const month of [...months].sort((a, b) => a.from - b.from)) {
      for (let ts = month.from; ts < month.to; ts += HOUR_MS) {
        const hour = new Date(ts).getUTCHours();
        // Busier by day; a different load per meter, in whole Wh so that sums stay exact.
        const consumed = (hour >= 7 && hour < 19 ? 4.25 : 1.5) + m * 0.5;
        counter = meter.id === reset.meter && ts === reset.at ? consumed : counter + consumed;
        readings.push({
          site,
          space: meter.space,
          device: meter.id,
          channel: '0',
          quantity: 'energy',
          value: counter,
          unit: 'kWh',
          ts,
        });
        // A step counts where the later reading lies (storage/consumption.ts): in this month.
        kwh.set(month.label, (kwh.get(month.label) ?? 0) + consumed);
      }
    }
  }
  return { readings, kwh };
}

t.test(
  'the board report shows the API figures, downloads CSV, keeps members out and prints A4',
  async (t) => {
    const browser = await openBrowser(t);
    if (!browser) return;
    const site = loadSite(readSettings({}).siteFile);
    const timeZone = site.site.timezone;

    // The last month that has ended, the month before and the same month a year earlier.
    const today = toLocal(Date.now(), timeZone);
    const m1 = monthBefore(today.year, today.month, 1);
    const m2 = monthBefore(today.year, today.month, 2);
    const m13 = monthBefore(today.year, today.month, 13);
    const month = monthOf(m1.year, m1.month, timeZone);
    const previous = monthOf(m2.year, m2.month, timeZone);
    const yearBefore = monthOf(m13.year, m13.month, timeZone);

    // History in the store before the system starts, rolled up as the gateway's maintenance does: what a
    // building that has run for a year holds (raw readings for the last 30 days, hourly rollups before).
    const mainMeters = site.devices.filter((d) => d.meter_role === 'main');
    t.ok(mainMeters.length > 0, 'the site has main meters');
    const resetAt = month.from + 10 * 24 * HOUR_MS + 5 * HOUR_MS;
    // The year-before month only from its 14th day on (the history starts within it): a partial period.
    const historyFrom = yearBefore.from + 13 * 24 * HOUR_MS;
    // meterHistory's first reading, an hour before, is the meters' data for that hour too.
    const yearBeforeCoverage = (yearBefore.to - (historyFrom - HOUR_MS)) / (yearBefore.to - yearBefore.from);
    const meters = meterHistory(
      site.site.id,
      mainMeters,
      [{ ...yearBefore, from: historyFrom }, previous, month],
      {
        meter: mainMeters[0]?.id ?? '',
        at: resetAt,
      },
    );
    const airSpaces = site.spaces.filter(
      (s) =>
        site.devices.some((d) => d.space === s.id && d.profile === 'zigbee2mqtt-air-quality') &&
        site.devices.some((d) => d.space === s.id && d.profile === 'zigbee2mqtt-occupancy'),
    );
    t.ok(airSpaces.length > 0, 'some rooms have both a CO2 and a presence sensor');
    const air: StoredReading[] = [];
    for (const space of airSpaces.slice(0, 2)) {
      const co2 = site.devices.find((d) => d.space === space.id && d.profile === 'zigbee2mqtt-air-quality');
      const presence = site.devices.find(
        (d) => d.space === space.id && d.profile === 'zigbee2mqtt-occupancy',
      );
      if (!co2 || !presence) continue;
      for (let ts = month.from; ts < month.to; ts += HOUR_MS) {
        const local = toLocal(ts, timeZone);
        const there = local.hour >= 9 && local.hour < 17;
        const common = { site: site.site.id, space: space.id, ts: ts + 5 * 60_000 };
        air.push({
          ...common,
          device: presence.id,
          channel: '0',
          quantity: 'occupancy',
          value: there ? 1 : 0,
          unit: 'bool',
        });
        // Fresh in the morning, stale in the afternoon.
        const ppm = there ? (local.hour < 13 ? 750 : 1350) : 450;
        air.push({ ...common, device: co2.id, channel: '0', quantity: 'co2', value: ppm, unit: 'ppm' });
      }
    }
    const system = await startRunningSystem({
      async prepare(dataDir) {
        const store = new SqliteStore({ file: path.join(dataDir, 'readings.db') });
        try {
          const all = [...meters.readings, ...air];
          for (let i = 0; i < all.length; i += 2000) await store.write(all.slice(i, i + 2000));
          await store.maintain();
        } finally {
          await store.close();
        }
      },
    });
    t.teardown(() => system.stop());

    // Bookings of the month in the system's records: some used, some no-shows, one cancelled.
    const records = openRecords(path.join(system.dataDir, 'wesprint.db'));
    try {
      const bookings = new SqliteBookingStore(records, site.site.id);
      const member = records.prepare("SELECT id FROM members WHERE role = 'member' LIMIT 1").get() as {
        id: string;
      };
      const desks = site.spaces.filter((s) => s.kind === 'desk' && s.bookable).slice(0, 4);
      t.equal(desks.length, 4, 'four bookable desks');
      for (let day = 3; day <= 20; day++) {
        const date = { year: m1.year, month: m1.month, day };
        for (const [i, desk] of desks.entries()) {
          const start = fromLocal(date, 9 * 60, timeZone);
          const made = await bookings.create(
            { memberId: member.id, spaceId: desk.id, start, end: start + 3 * HOUR_MS },
            start - 86_400_000,
          );
          if (!made.ok) throw new Error(`booking ${desk.id} on day ${day} refused`);
          // Every third a no-show, the rest checked in by the sensor (nothing left for the system to release).
          if ((day + i) % 3 === 0) await bookings.release(made.booking.id, start + 15 * 60_000);
          else await bookings.checkIn(made.booking.id, start + 5 * 60_000);
        }
      }
    } finally {
      records.close();
    }

    // Not signed in: on to the member page's sign-in, which brings the reader back here.
    const anonymous = await newPage(browser, VIEWPORTS.desktop);
    await anonymous.page.goto(`${system.httpUrl}/board/report?period=${month.label}`);
    await anonymous.page.waitForURL(/\/\?next=/);
    const next = new URL(anonymous.page.url()).searchParams.get('next');
    t.equal(next, `/board/report?period=${month.label}`, 'sent to sign in, and back to this report after');

    // A member: a clear refusal, no figures.
    const member = system.demo.find((d) => d.role === 'member');
    if (!member) throw new Error('no demo member');
    const { page: memberPage } = await signedInPage(browser, system.httpUrl, member);
    await memberPage.goto(`${system.httpUrl}/board/report?period=${month.label}`);
    await memberPage.getByRole('alert').filter({ hasText: 'vorbehalten' }).waitFor();
    t.equal(await memberPage.locator('[data-figure]').count(), 0, 'a member sees no figure');
    await saveScreenshot(memberPage, 'board-report-member-refused');

    // The board.
    const { page, errors } = await signedInPage(browser, system.httpUrl, system.person('board'));
    await page.goto(`${system.httpUrl}/board/report?period=${month.label}`);
    await page.locator('[data-figure="energyKwh"]').waitFor();
    const apiAnswer = await page.request.get(`${system.httpUrl}/api/board/report?period=${month.label}`);
    t.equal(apiAnswer.status(), 200);
    const report = (await apiAnswer.json()) as BoardReportOut;
    t.equal(report.period.label, month.label);

    // The report adds up what the counters say, across the restart.
    const energy = report.figures.find((f) => f.key === 'energyKwh');
    t.ok(
      Math.abs((energy?.value ?? Number.NaN) - (meters.kwh.get(month.label) ?? 0)) < 0.01,
      `energy ${energy?.value} kWh is what the counters say (${meters.kwh.get(month.label)})`,
    );
    t.ok(
      Math.abs((energy?.previous ?? Number.NaN) - (meters.kwh.get(previous.label) ?? 0)) < 0.01,
      'and the month before',
    );
    t.equal(report.period.coverage, 1, 'the month is covered by the meters');
    t.equal(report.previous.coverage, 1, 'and the month before');
    t.equal(
      report.yearBefore.coverage,
      Math.round(yearBeforeCoverage * 1000) / 1000,
      'the year-before month only from its 14th day',
    );
    // The energy card says so beside the year-before figure, and judges no change against it.
    const percent = new Intl.NumberFormat('de-DE', { style: 'percent' }).format(
      Math.round(yearBeforeCoverage * 100) / 100,
    );
    const yearBeforeEnergy = page.locator('[data-figure="energyKwh"] .year-before');
    t.equal(
      await yearBeforeEnergy.getByText(`Daten für ${percent} des Zeitraums`).count(),
      1,
      `"Daten für ${percent} des Zeitraums" beside the year before`,
    );
    t.equal(await yearBeforeEnergy.locator('.change').count(), 0, 'no better/worse against a partial month');
    t.equal(
      await page.locator('[data-figure="goodAirShare"] .partial').count(),
      0,
      'figures not from the meters carry no note',
    );
    // A close-up of the figures with the note, beside the full-page screenshots.
    await page.locator('section.figures').screenshot({ path: FIGURES_SHOT });

    const monthName = new Intl.DateTimeFormat('de-DE', {
      month: 'long',
      year: 'numeric',
      timeZone: 'UTC',
    }).format(Date.UTC(m1.year, m1.month - 1, 1));
    t.match(
      await page.getByRole('heading', { level: 1 }).textContent(),
      monthName,
      'the month in the heading',
    );
    t.match(await page.locator('.report-header').textContent(), site.site.name, 'the site in the heading');

    for (const figure of report.figures) {
      const card = page.locator(`[data-figure="${figure.key}"]`);
      const shown = (value: number | null) =>
        value === null ? 'keine Daten' : formatFigure(figure.key, value, 'de-DE', GERMAN_UNITS);
      t.equal(await card.locator('.value').textContent(), shown(figure.value), `${figure.key}: value`);
      t.equal(
        await card.locator('.previous .reference').textContent(),
        shown(figure.previous),
        `${figure.key}: previous period`,
      );
      t.equal(
        await card.locator('.year-before .reference').textContent(),
        shown(figure.yearBefore),
        `${figure.key}: year before`,
      );
      for (const [where, reference] of [
        ['.previous', figure.previous],
        ['.year-before', figure.yearBefore],
      ] as const) {
        const change = figureChange(figure.key, figure.value, reference, 'de-DE', GERMAN_UNITS);
        const shownChange = card.locator(`${where} .change`);
        const coverage = where === '.previous' ? report.previous.coverage : report.yearBefore.coverage;
        const partial = partialCoverage(figure.key, report.period.coverage, coverage);
        if (partial !== null && reference !== null) {
          t.equal(
            await card.locator(`${where} .partial`).textContent(),
            `Daten für ${formatCoverage(partial, 'de-DE')} des Zeitraums`,
            `${figure.key}: partial ${where}`,
          );
          t.equal(await shownChange.count(), 0, `${figure.key}: not judged ${where}`);
        } else if (change === null)
          t.equal(await shownChange.count(), 0, `${figure.key}: no change ${where}`);
        else {
          t.equal(
            await shownChange.locator('.change-text').textContent(),
            change.text,
            `${figure.key}: change ${where}`,
          );
          t.ok(
            await shownChange.evaluate((el, v) => el.classList.contains(v), change.verdict),
            `${change.verdict}`,
          );
        }
      }
    }
    t.match(
      await page.locator('.factors').textContent(),
      `${report.factors.locationGPerKwh} g CO₂e/kWh für ${report.factors.locationYear}`,
      'the location factor is explained',
    );
    await saveScreenshot(page, 'board-report-screen');

    // Every table is on the page with a CSV link; the energy-per-day CSV holds the table's rows.
    for (const table of report.tables) {
      const section = page.locator(`[data-table="${table.id}"]`);
      t.equal(await section.locator('tbody tr').count(), table.rows.length, `${table.id}: every row`);
      const href = await section.getByRole('link').getAttribute('href');
      t.equal(
        href,
        `/api/board/report.csv?period=${month.label}&table=${table.id}&lang=de`,
        `${table.id}: CSV link`,
      );
    }
    const byDay = report.tables.find((table) => table.id === 'energy-by-day');
    t.ok(byDay && byDay.rows.length >= 28, 'a row per day of the month');
    if (byDay) {
      const section = page.locator('[data-table="energy-by-day"]');
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        section.getByRole('link').click(),
      ]);
      const file = await download.path();
      // German: `;` between fields, decimal commas, as German spreadsheets read it.
      const csv = parse(fs.readFileSync(file, 'utf8'), { bom: true, delimiter: ';' }) as string[][];
      const [header, ...rows] = csv;
      t.equal(rows.length, byDay.rows.length, 'the CSV has a line per table row');
      const kwhColumn = byDay.columns.findIndex((c) => c.unit === 'kWh');
      t.ok(kwhColumn >= 0 && header, 'the table has a kWh column');
      const shownRows = await section.locator('tbody tr').all();
      for (const [i, row] of rows.entries()) {
        const cells = await shownRows[i]?.locator('td').allTextContents();
        const kwh = row[kwhColumn] ?? '';
        t.equal(
          cells?.[kwhColumn],
          kwh === '' ? '–' : formatTableNumber(Number(kwh.replace(',', '.')), 'kWh', 'de-DE'),
          `day ${i + 1}: the page shows the CSV's kWh`,
        );
      }
    }

    // Another month by the button: the address follows, so the link can be shared.
    await page.getByRole('button', { name: 'Vorheriger Zeitraum' }).click();
    await page.waitForURL(new RegExp(`period=${previous.label}$`));
    await page.getByRole('heading', { level: 1 }).filter({ hasNotText: monthName }).waitFor();
    await page.goBack();
    await page.waitForURL(new RegExp(`period=${month.label}$`));
    await page.getByRole('heading', { level: 1 }).filter({ hasText: monthName }).waitFor();

    // The quarter holding the month, as a link of its own.
    const quarter = `${m1.year}-Q${Math.ceil(m1.month / 3)}`;
    await page.getByRole('button', { name: 'Quartal', exact: true }).click();
    await page.waitForURL(new RegExp(`period=${quarter}$`));
    await page
      .getByRole('heading', { level: 1 })
      .filter({ hasText: `${Math.ceil(m1.month / 3)}. Quartal ${m1.year}` })
      .waitFor();
    await page.goBack();
    await page.getByRole('heading', { level: 1 }).filter({ hasText: monthName }).waitFor();

    // Without a period: the last month that has ended (by the reader's clock), put into the address.
    const { page: plain } = await signedInPage(browser, system.httpUrl, system.person('board'));
    await plain.goto(`${system.httpUrl}/board/report`);
    await plain.waitForURL(/period=/);
    const browserMonth = Number(
      await plain.evaluate('new Date().getFullYear() * 12 + new Date().getMonth()'),
    );
    const expected = `${Math.floor((browserMonth - 1) / 12)}-${String(((browserMonth - 1) % 12) + 1).padStart(2, '0')}`;
    t.equal(new URL(plain.url()).searchParams.get('period'), expected, 'the last complete month by default');
    await plain.goto(`${system.httpUrl}/board/report?period=2999-01`);
    await plain.locator('[data-figure="energyKwh"]').waitFor();
    t.equal(
      new URL(plain.url()).searchParams.get('period'),
      expected,
      'a period not begun: the default instead',
    );

    // Print: no buttons or links, the report as A4 pages.
    await page.emulateMedia({ media: 'print' });
    t.notOk(
      await page.getByRole('button', { name: 'Drucken / PDF' }).isVisible(),
      'no print button on paper',
    );
    t.notOk(await page.getByRole('button', { name: 'Vorheriger Zeitraum' }).isVisible(), 'no period buttons');
    t.notOk(await page.getByRole('link', { name: /CSV/ }).first().isVisible(), 'no download links');
    t.ok(await page.locator('img.print-copy').first().isVisible(), 'the charts print as pictures');
    await saveScreenshot(page, 'board-report-print');
    fs.mkdirSync(path.dirname(PDF_FILE), { recursive: true });
    const pdf = await page.pdf({ path: PDF_FILE, format: 'A4' });
    t.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-', 'a PDF');
    const pages = pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g)?.length ?? 0;
    t.ok(pages >= 1, `${pages} A4 pages`);
    t.ok(pdf.length > 20_000, `not an empty document (${pdf.length} bytes)`);

    // In English: the same figures in English words and numbers.
    await page.emulateMedia({ media: 'screen' });
    await page.getByRole('button', { name: 'EN', exact: true }).click();
    await page.getByRole('heading', { level: 1 }).filter({ hasText: 'Ecological report' }).waitFor();
    for (const figure of report.figures) {
      const english = { ...GERMAN_UNITS, kwhPerDeskHour: 'kWh/desk-hour', hours: 'h', percentPoints: 'pp' };
      t.equal(
        await page.locator(`[data-figure="${figure.key}"] .value`).textContent(),
        figure.value === null ? 'no data' : formatFigure(figure.key, figure.value, 'en-GB', english),
        `${figure.key} in English`,
      );
    }
    await saveScreenshot(page, 'board-report-english');
    t.same(errors, [], 'no errors in the page');
  },
);

import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import t from 'tap';
import { readSettings } from '../../cli/settings.ts';
import { loadSites } from '../../cli/sites.ts';
import { openRecords } from '../../database/database.ts';
import { SqliteMemberStore } from '../../members/sqlite-member-store.ts';
import type { NetworkReportOut } from '../../reports/network-report-schema.ts';
import { fromLocal, toLocal } from '../../site/local-time.ts';
import { SqliteStore } from '../../storage/sqlite-store.ts';
import type { StoredReading } from '../../storage/store.ts';
import { openBrowser, saveScreenshot, signedInPage } from '../../test-support/browser.ts';
import { startRunningSystem } from '../../test-support/running-system.ts';
import { formatCoverage, formatFigure, type UnitWords } from '../src/pages/board/report-numbers.ts';

/**
 * The network report in real Chromium on the running system serving the demo network (SITES_DIR, four
 * houses): the last complete month metered in two houses, nothing in the others. The page shows every
 * house and the total as the API answers, formatted by the report's number rules, with each figure's
 * coverage; its CSV downloads; the board of one house only is refused; it prints as an A4 PDF.
 */

const HOUR_MS = 3_600_000;
const SITES_DIR = path.resolve(import.meta.dirname, '../../simulations/network');
const PDF_FILE = path.resolve(import.meta.dirname, '../../test-output/network-report.pdf');
const GERMAN_UNITS: UnitWords = {
  kwh: 'kWh',
  kwhPerM2a: 'kWh/m²·a',
  kg: 'kg',
  t: 't',
  kwhPerDeskHour: 'kWh/Platzstunde',
  hours: 'Std.',
  percentPoints: 'Pp.',
};

t.test('the network report: houses side by side, the total, CSV, refusal and print', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const network = loadSites(readSettings({ SITES_DIR }));
  const [home, second] = network.sites;
  if (!home || !second) throw new Error('the demo network has fewer than two houses');
  const timeZone = home.site.timezone;
  // The last month that has ended, in the home site's time zone (every demo house is on Central European time).
  const today = toLocal(Date.now(), timeZone);
  const index = today.year * 12 + today.month - 2;
  const month = { year: Math.floor(index / 12), month: (index % 12) + 1 };
  const label = `${month.year}-${String(month.month).padStart(2, '0')}`;
  const next =
    month.month === 12 ? { year: month.year + 1, month: 1 } : { year: month.year, month: month.month + 1 };
  const from = fromLocal({ ...month, day: 1 }, 0, timeZone);
  const to = fromLocal({ ...next, day: 1 }, 0, timeZone);
  const hours = (to - from) / HOUR_MS;

  // Every main meter of the first two houses counts 2 kWh an hour through the month (a reading an hour
  // before, so that its first hour has a counter to start from); the other houses have no readings.
  const readings: StoredReading[] = [];
  const metered = [home, second].map((site) => {
    const meters = site.devices.filter((d) => d.meter_role === 'main');
    for (const meter of meters) {
      for (let ts = from - HOUR_MS, counter = 5000; ts < to; ts += HOUR_MS, counter += 2) {
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
    return { site: site.site.id, kwh: meters.length * hours * 2 };
  });
  t.ok(
    metered.every((m) => m.kwh > 0),
    'both houses have main meters',
  );

  const system = await startRunningSystem({
    simulation: false,
    env: { SITES_DIR },
    async prepare(dataDir) {
      const store = new SqliteStore({ file: path.join(dataDir, 'readings.db') });
      try {
        for (let i = 0; i < readings.length; i += 2000) await store.write(readings.slice(i, i + 2000));
        await store.maintain();
      } finally {
        await store.close();
      }
    },
  });
  t.teardown(() => system.stop());

  // The network's board: board in every house. And the board of the home house only.
  const records = openRecords(path.join(system.dataDir, 'wesprint.db'));
  const people = new SqliteMemberStore(records);
  const password = 'network-board-password-1';
  let everywhere: { email: string; password: string };
  let homeOnly: { email: string; password: string };
  try {
    const made = await people.create({
      email: 'netz@vorstand.example',
      role: 'board',
      homeSite: home.site.id,
      password,
    });
    for (const other of network.sites.slice(1))
      await people.setSiteRole(made.member.id, other.site.id, 'board');
    everywhere = { email: made.member.email, password };
    await people.create({ email: 'haus@vorstand.example', role: 'board', homeSite: home.site.id, password });
    homeOnly = { email: 'haus@vorstand.example', password };
  } finally {
    records.close();
  }

  const refused = await signedInPage(browser, system.httpUrl, homeOnly);
  await refused.page.goto(`${system.httpUrl}/network/report?period=${label}`);
  await refused.page.getByRole('alert').filter({ hasText: 'Vorstand aller Häuser' }).waitFor();
  t.equal(await refused.page.locator('[data-figure]').count(), 0, 'the board of one house sees no figure');

  const { page, errors } = await signedInPage(browser, system.httpUrl, everywhere);
  await page.goto(`${system.httpUrl}/network/report?period=${label}`);
  await page.locator('[data-figure="energyKwh"]').waitFor();
  const answer = await page.request.get(`${system.httpUrl}/api/network/report?period=${label}`);
  t.equal(answer.status(), 200);
  const report = (await answer.json()) as NetworkReportOut;
  t.same(
    report.houses.map((h) => h.site.id),
    network.sites.map((s) => s.site.id),
    'every house, in the folder’s order',
  );

  // By hand: 2 kWh an hour per main meter; the network's total is the two metered houses'.
  const kwhOf = (figures: NetworkReportOut['total']['figures']) => figures.find((f) => f.key === 'energyKwh');
  for (const [i, m] of metered.entries()) t.equal(kwhOf(report.houses[i]?.figures ?? [])?.value, m.kwh);
  t.equal(kwhOf(report.total.figures)?.value, (metered[0]?.kwh ?? 0) + (metered[1]?.kwh ?? 0));
  t.equal(kwhOf(report.houses[2]?.figures ?? [])?.value, null, 'no readings, no figure');
  t.equal(kwhOf(report.houses[0]?.figures ?? [])?.coverage, 1, 'every hour metered');

  // The page shows what the API says, as the report's number rules write it, with its coverage.
  const cell = (site: string, key: string) =>
    page.locator(`tr[data-figure="${key}"] td[data-site="${site}"]`);
  for (const [site, figures] of [
    ...report.houses.map((h) => [h.site.id, h.figures] as const),
    ['total', report.total.figures] as const,
  ]) {
    for (const key of ['energyKwh', 'co2LocationKg', 'energyKwhPerM2Annualised'] as const) {
      const f = figures.find((x) => x.key === key);
      const text = await cell(site, key).locator('.value').textContent();
      const expected =
        f?.value === null || f === undefined
          ? 'keine Daten'
          : formatFigure(key, f.value, 'de-DE', GERMAN_UNITS);
      t.equal(text, expected, `${site} ${key}`);
    }
  }
  // The network's meter coverage: the two metered houses' meter-hours over all four houses'.
  const coverage = kwhOf(report.total.figures)?.coverage ?? 1;
  t.ok(coverage > 0 && coverage < 1, `partly metered network (${coverage})`);
  t.equal(
    await cell('total', 'energyKwh').locator('.coverage').textContent(),
    `Messdaten für ${formatCoverage(coverage, 'de-DE')}`,
  );
  // No bookings on record in any house (the second's are not in these records at all): unknown, not zero.
  t.equal(
    await cell(second.site.id, 'bookedHours').locator('.coverage').textContent(),
    'keine Buchungen erfasst',
  );
  t.equal(
    await cell(second.site.id, 'availableHours').locator('.coverage').count(),
    0,
    'opening hours are known',
  );

  // The CSV, in German.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Alle Zahlen als CSV' }).click(),
  ]);
  const file = await download.path();
  const rows = parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, ''), {
    delimiter: ';',
    columns: true,
  }) as Record<string, string>[];
  t.equal(rows.length, (network.sites.length + 1) * 11, 'a row per house and figure, and the network’s');
  t.equal(
    rows.find((r) => r.scope === 'network' && r.figure === 'energyKwh')?.value,
    String(kwhOf(report.total.figures)?.value).replace('.', ','),
  );
  await saveScreenshot(page, 'network-report');

  // On paper: no controls, the table, an A4 PDF.
  await page.emulateMedia({ media: 'print' });
  t.notOk(await page.getByRole('button', { name: /Drucken/ }).isVisible(), 'no print button on paper');
  t.notOk(await page.getByRole('link', { name: /CSV/ }).isVisible(), 'no download link');
  t.ok(await cell('total', 'energyKwh').isVisible(), 'the total prints');
  fs.mkdirSync(path.dirname(PDF_FILE), { recursive: true });
  const pdf = await page.pdf({ path: PDF_FILE, format: 'A4' });
  t.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-', 'a PDF');
  t.same(errors, [], 'no errors on the page');

  // The board page's site switch: for the network's board every house; the board of one house sees none.
  await refused.page.goto(`${system.httpUrl}/board/report?period=${label}`);
  await refused.page.locator('[data-figure="energyKwh"]').waitFor();
  await refused.page.waitForLoadState('networkidle');
  t.equal(await refused.page.getByLabel('Haus').count(), 0, 'one house: no switch');

  const board = await signedInPage(browser, system.httpUrl, everywhere);
  await board.page.goto(`${system.httpUrl}/board/report?period=${label}`);
  const houseSwitch = board.page.getByLabel('Haus');
  await houseSwitch.waitFor();
  t.same(
    await houseSwitch.locator('option').allInnerTexts(),
    network.sites.map((s) => s.site.name),
    'every house where the board role opens the report',
  );
  t.equal(await board.page.locator('.report-header .site').textContent(), home.site.name);
  await houseSwitch.selectOption(second.site.id);
  await board.page.waitForURL(new RegExp(`site=${second.site.id}`));
  await board.page.locator('.report-header .site').filter({ hasText: second.site.name }).waitFor();
  const theirs = await board.page.request.get(
    `${system.httpUrl}/api/network/houses/${second.site.id}/report?period=${label}`,
  );
  t.equal(theirs.status(), 200);
  const theirKwh = (
    (await theirs.json()) as { figures: { key: string; value: number | null }[] }
  ).figures.find((f) => f.key === 'energyKwh')?.value;
  t.equal(theirKwh, metered[1]?.kwh, "the second house's own meters");
  const spaced = (text: string | null) => (text ?? '').replace(/\s+/g, ' ').trim();
  t.equal(
    spaced(await board.page.locator('[data-figure="energyKwh"] .value').textContent()),
    spaced(formatFigure('energyKwh', theirKwh ?? 0, 'de-DE', GERMAN_UNITS)),
    'the page shows the chosen house',
  );
  t.match(
    await board.page.getByRole('link', { name: /CSV/ }).first().getAttribute('href'),
    new RegExp(`/api/network/houses/${second.site.id}/report\\.csv\\?`),
    'its CSV is the chosen house’s',
  );
  await saveScreenshot(board.page, 'board-report-site-switch');
  // Back: the home house again, from the URL.
  await board.page.goBack();
  await board.page.locator('.report-header .site').filter({ hasText: home.site.name }).waitFor();
  t.same(board.errors, [], 'no errors on the board page');
});

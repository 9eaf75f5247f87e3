import path from 'node:path';
import { parse } from 'csv-parse/sync';
import t from 'tap';
import { SqliteAuditLog } from '../../access/sqlite-audit-log.ts';
import { readSettings } from '../../cli/settings.ts';
import { openRecords } from '../../database/database.ts';
import type { BoardReportOut } from '../../reports/board-report-schema.ts';
import { loadSite } from '../../site/load.ts';
import { fromLocal, toLocal } from '../../site/local-time.ts';
import { SqliteStore } from '../../storage/sqlite-store.ts';
import type { StoredReading } from '../../storage/store.ts';
import { openBrowser, saveScreenshot, signedInPage } from '../../test-support/browser.ts';
import { startRunningSystem } from '../../test-support/running-system.ts';

/**
 * "Saved by automations" on the board report, in real Chromium on the running system: Node-RED (an
 * integration token) switched Protel 203's sockets off for twelve nights and set Protel 201's heating back
 * from 21 to 17 °C for twelve nights of the last complete month, a member switched another output off once.
 * The commands are in the audit log as the commands route writes them, the sockets' power and the valve's
 * setpoint in the store; the page shows the estimates apart from the metered figures, with how each is made,
 * in the CSV and on paper too.
 */

const HOUR_MS = 3_600_000;
const PLUGS = 'og2-protel-steckdosen';
const VALVE = 'og2-protel-01-heizung';
const NIGHTS = 12;

t.test('the board report shows what automations saved, apart, with how it is estimated', async (t) => {
  const browser = await openBrowser(t);
  if (!browser) return;
  const site = loadSite(readSettings({}).siteFile);
  const timeZone = site.site.timezone;
  t.equal(site.spaces.find((s) => s.id === 'og2-protel-01')?.heat_loss_w_per_k, 51, "Protel 201's H");
  t.equal(site.site.heating_co2_g_per_kwh, 267, 'the heating factor');

  // The last month that has ended, by the site's calendar (whatever day the suite runs on).
  const today = toLocal(Date.now(), timeZone);
  const index = today.year * 12 + today.month - 2;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  const label = `${year}-${String(month).padStart(2, '0')}`;
  const local = (day: number, minutes: number) => fromLocal({ year, month, day }, minutes, timeZone);

  // Nights 3 to 14: sockets off 18:30 to 08:00 (13.5 h; a clock change would make it 12.5 or 14.5, so the
  // hours are counted from the instants), drawing 9 W in the hour before; the valve 21 → 17 °C from 19:00
  // to 06:30 (11.5 h, likewise).
  const readings: StoredReading[] = [];
  const commands: { at: number; device: string; channel: string; action: string; value?: number }[] = [];
  let offHours = 0;
  let setbackHours = 0;
  for (let day = 3; day < 3 + NIGHTS; day++) {
    const off = local(day, 18 * 60 + 30);
    const on = local(day + 1, 8 * 60);
    offHours += (on - off) / HOUR_MS;
    const hourBefore = Math.floor(off / HOUR_MS) * HOUR_MS - HOUR_MS;
    for (const minute of [10, 40])
      readings.push({
        site: site.site.id,
        space: 'og2-protel-03',
        device: PLUGS,
        channel: '2',
        quantity: 'power',
        value: 9,
        unit: 'W',
        ts: hourBefore + minute * 60_000,
      });
    commands.push({ at: off, device: PLUGS, channel: '2', action: 'switch_off' });
    commands.push({ at: on, device: PLUGS, channel: '2', action: 'switch_on' });
    const down = local(day, 19 * 60);
    const up = local(day + 1, 6 * 60 + 30);
    setbackHours += (up - down) / HOUR_MS;
    readings.push({
      site: site.site.id,
      space: 'og2-protel-01',
      device: VALVE,
      channel: '0',
      quantity: 'setpoint',
      value: 21,
      unit: '°C',
      ts: down - 2 * HOUR_MS,
    });
    commands.push({ at: down, device: VALVE, channel: '0', action: 'set_setpoint', value: 17 });
    commands.push({ at: up, device: VALVE, channel: '0', action: 'set_setpoint', value: 21 });
  }
  // By hand: 9 W × the hours off; 51 W/K × 4 K × the hours set back, heat at 267 g/kWh.
  const savedKwh = (9 * offHours) / 1000;
  const heatKwh = (51 * 4 * setbackHours) / 1000;
  const heatCo2Kg = (heatKwh * 267) / 1000;

  const system = await startRunningSystem({
    async prepare(dataDir) {
      const store = new SqliteStore({ file: path.join(dataDir, 'readings.db') });
      try {
        await store.write(readings);
        await store.maintain();
      } finally {
        await store.close();
      }
      // The commands as the commands route audits them, a confirmed one each.
      const records = openRecords(path.join(dataDir, 'wesprint.db'));
      try {
        const audit = new SqliteAuditLog(records);
        for (const c of commands)
          await audit.record({
            at: c.at,
            actor: 'token:node-red-test',
            action: 'device_command',
            target: c.device,
            decision: 'granted',
            reason: 'confirmed',
            detail: {
              token: 'node-red',
              action: c.action,
              channel: c.channel,
              ...(c.value === undefined ? {} : { value: c.value }),
              outcome: 'done',
            },
          });
        // A member's click in the facility view: no automation's saving.
        await audit.record({
          at: local(5, 12 * 60),
          actor: 'member-fred',
          action: 'device_command',
          target: PLUGS,
          decision: 'granted',
          reason: 'confirmed',
          detail: { role: 'facility', action: 'switch_off', channel: '1', outcome: 'done' },
        });
      } finally {
        records.close();
      }
    },
  });
  t.teardown(() => system.stop());

  const { page, errors } = await signedInPage(browser, system.httpUrl, system.person('board'));
  await page.goto(`${system.httpUrl}/board/report?period=${label}`);
  const section = page.locator('[data-section="saved-by-automations"]');
  await section.waitFor();
  const answer = await page.request.get(`${system.httpUrl}/api/board/report?period=${label}`);
  const report = (await answer.json()) as BoardReportOut;
  const saved = report.savedByAutomations;
  t.ok(saved, 'the report has the section');
  if (!saved) return;

  // The API's figures are the hand computation's.
  t.equal(saved.switchedOff.kwh, Math.round(savedKwh * 1000) / 1000, `${savedKwh} kWh not used`);
  t.equal(saved.switchedOff.outputs, 1, "one output: the member's switch-off is not an automation's");
  t.equal(saved.switchedOff.spans, NIGHTS);
  t.equal(saved.setBack.heatKwh, Math.round(heatKwh * 1000) / 1000, `${heatKwh} kWh of heat`);
  t.equal(saved.setBack.co2Kg, Math.round(heatCo2Kg * 1000) / 1000);
  const electricityCo2 = (savedKwh * report.factors.locationGPerKwh) / 1000;

  // The page: apart from the metered figures, each with how it is estimated.
  t.equal(await section.locator('[data-figure]').count(), 0, 'no metered figure among the estimates');
  t.match(await section.locator('h2').textContent(), 'Eingespart durch Automationen');
  t.match(await section.locator('.intro').textContent(), /Geschätzt, nicht gemessen/);
  const de = (value: number, digits: number) =>
    new Intl.NumberFormat('de-DE', { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(
      value,
    );
  // Emissions below a tonne: kg with one decimal (report-numbers.ts formatMass).
  const kg = (value: number) => `${de(value, 1)}\u00a0kg`;
  const plugs = section.locator('[data-saving="switched_off"]');
  t.equal(await plugs.locator('.value').textContent(), `${de(savedKwh, 2)}\u00a0kWh`);
  t.match(await plugs.locator('dl').textContent(), kg(electricityCo2));
  t.match(await plugs.locator('.method').textContent(), /Stunde vor dem Ausschalten × Stunden/);
  const heat = section.locator('[data-saving="set_back"]');
  t.equal(await heat.locator('.value').textContent(), `${de(heatKwh, 1)}\u00a0kWh Wärme`);
  t.match(await heat.locator('dl').textContent(), kg(heatCo2Kg));
  t.match(await heat.locator('dl').textContent(), '267 g/kWh');
  t.match(await heat.locator('.method').textContent(), /Gradstunden-Modell.*Wärmeverlustkoeffizient/);
  await section.screenshot({
    path: path.resolve(import.meta.dirname, '../../test-output/screenshots/board-report-saved.png'),
  });

  // The table and its CSV.
  const table = page.locator('[data-table="saved-by-automations"]');
  t.equal(await table.locator('tbody tr').count(), 2, 'a row for the output, one for the room');
  t.match(await table.locator('tbody').textContent(), /ausgeschaltet \(Strom\)[\s\S]*abgesenkt \(Wärme\)/);
  const csvAnswer = await page.request.get(
    `${system.httpUrl}/api/board/report.csv?period=${label}&table=saved-by-automations&lang=en`,
  );
  t.equal(csvAnswer.status(), 200);
  const [header, ...rows] = parse(await csvAnswer.text(), { bom: true }) as string[][];
  const column = (name: string) => header?.indexOf(name) ?? -1;
  t.same(
    rows.map((row) => [row[column('saving')], row[column('device')], Number(row[column('savedKwh')])]),
    [
      ['switched_off', PLUGS, Math.round(savedKwh * 1000) / 1000],
      ['set_back', VALVE, Math.round(heatKwh * 1000) / 1000],
    ],
    'the CSV holds the estimates',
  );

  // On paper: the section is printed with its methods.
  await page.emulateMedia({ media: 'print' });
  t.ok(await section.isVisible(), 'printed');
  t.ok(await heat.locator('.method').isVisible(), 'with how it is estimated');
  await saveScreenshot(page, 'board-report-saved-print');

  // In English.
  await page.emulateMedia({ media: 'screen' });
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await section.locator('h2').filter({ hasText: 'Saved by automations' }).waitFor();
  t.match(await plugs.locator('.method').textContent(), /measured mean power in the hour before/);
  t.same(errors, [], 'no errors in the page');
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { SqliteBookingStore } from '../bookings/sqlite-booking-store.ts';
import { openRecords } from '../database/database.ts';
import { loadProfiles } from '../device-profiles/registry.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import { Identity } from '../members/identity.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { planBackfill } from '../simulations/history/plan.ts';
import { ensureSimulatedMembers } from '../simulations/history/population.ts';
import { runBackfill } from '../simulations/history/run.ts';
import { loadSite } from '../site/load.ts';
import type { SiteConfig } from '../site/site.ts';
import { InfluxV1Store } from '../storage/influx-v1-store.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { requireComponent } from '../test-support/component.ts';
import { INFLUXD_INSTALL, influxdAvailable, startInfluxd } from '../test-support/influxd.ts';
import { buildBoardReport, lastCompleteMonth } from './board-report.ts';
import { parsePeriod } from './report-period.ts';

// A year of history written into both stores before any report is read: ~90 s on an idle 2-core machine,
// past tap's 120 s per file when the machine is busy. The runner is told this file's own limit.
t.setTimeout(600_000);

/**
 * The board report from InfluxDB against the same from the embedded store: one history of a small building
 * (the demo's ground floor: a main meter that restarts within the history, three plugs, presence and air
 * sensors, the hall booked) written by the backfill into each, the report of the last complete month and of
 * last year built over each with the same booking records. Past 30 days both answer from their hourly
 * rollups, which each store computed its own way. The history is the demo's 430 days, or longer when that
 * does not reach back to last 1 January (from March on): two empty reports of last year would agree too.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function groundFloor(): SiteConfig {
  const demo = loadSite(DEMO_SITE_FILE);
  const spaces = demo.spaces.filter((s) => s.floor === 'eg');
  const ids = new Set(spaces.map((s) => s.id));
  return {
    ...demo,
    floors: demo.floors.filter((f) => f.id === 'eg'),
    spaces,
    devices: demo.devices.filter((d) => ids.has(d.space)),
  };
}

/** Paths where the two reports differ by more than rounding (a relative 1e-9), with both values. */
function differences(a: unknown, b: unknown, at = '$', out: string[] = []): string[] {
  if (typeof a === 'number' && typeof b === 'number') {
    if (Math.abs(a - b) > 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))) out.push(`${at}: ${a} vs ${b}`);
  } else if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) out.push(`${at}: ${a.length} vs ${b.length} entries`);
    else for (const [i, x] of a.entries()) differences(x, b[i], `${at}[${i}]`, out);
  } else if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys)
      differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`, out);
  } else if (a !== b) out.push(`${at}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  return out;
}

if (requireComponent(t, influxdAvailable(), 'InfluxDB 1.x (influxd)', INFLUXD_INSTALL)) {
  const influxd = await startInfluxd();
  t.teardown(() => influxd.dispose());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-report-stores-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

  t.test('a year of history: the same board report from InfluxDB as from the embedded store', async (t) => {
    const site = groundFloor();
    const profiles = await loadProfiles();
    // The application's clock, and never before influxd's own: it refuses raw points past retention by that.
    const end = Math.max(Date.now(), await influxd.clock());
    const tz = site.site.timezone;
    const lastYear = parsePeriod(String(new Date(end).getUTCFullYear() - 1), tz);
    if (!lastYear.ok) throw new Error(lastYear.reason);
    const spanMs = Math.max(430 * DAY, Math.ceil((end - lastYear.period.from) / DAY + 1) * DAY);
    const plan = planBackfill(site, profiles, { spanMs, end });
    const records = openRecords(path.join(dir, 'wesprint.db'));
    t.teardown(() => records.close());
    const members = await ensureSimulatedMembers(new Identity(records), site.site.id);
    const sqlite = new SqliteStore({ file: path.join(dir, 'readings.db'), rawRetentionDays: 30 });
    const influx = new InfluxV1Store({
      url: influxd.url,
      database: 'history',
      rawRetentionDays: 30,
      now: () => end,
    });
    t.teardown(() => Promise.all([sqlite.close(), influx.close()]).then(() => undefined));

    const history = async (name: string, store: SqliteStore | InfluxV1Store, withBookings: boolean) => {
      const dataDir = path.join(dir, name);
      fs.mkdirSync(dataDir, { recursive: true });
      const quarantine = new Quarantine(path.join(dataDir, 'gateway.db'));
      t.teardown(() => quarantine.close());
      const started = performance.now();
      const report = await runBackfill({
        site,
        profiles,
        plan,
        dataDir,
        store,
        quarantine,
        spoolDir: path.join(dataDir, 'spool'),
        ...(withBookings
          ? { bookings: { store: new SqliteBookingStore(records, site.site.id), members } }
          : {}),
        now: () => end,
      });
      t.comment(
        `${name}: ${report.readings} readings in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
      return report;
    };
    const written = await history('sqlite', sqlite, true);
    const again = await history('influx', influx, false);
    t.equal(again.readings, written.readings, 'the same readings went into both');
    t.ok(written.reboot, 'the main meter restarts within the history');

    const bookings = new SqliteBookingStore(records, site.site.id);
    for (const period of [lastCompleteMonth(end, tz), lastYear.period]) {
      const fromSqlite = await buildBoardReport({ site, store: sqlite, bookings, profiles }, period, end);
      const fromInflux = await buildBoardReport({ site, store: influx, bookings, profiles }, period, end);
      t.same(differences(fromInflux, fromSqlite), [], `${period.label}: the same report within rounding`);
      const energy = fromInflux.tables
        .find((table) => table.id === 'summary')
        ?.rows.find((row) => row.figure === 'energyKwh');
      t.ok(typeof energy?.value === 'number' && energy.value > 0, `${period.label}: ${energy?.value} kWh`);
      t.ok(fromInflux.period.coverage > 0.9, `${period.label} covered: ${fromInflux.period.coverage}`);
      if (period.kind !== 'month') continue;
      // The month a year before lies long past raw retention: InfluxDB answers it from its rollups.
      t.ok(
        typeof energy?.yearBefore === 'number' && energy.yearBefore > 0,
        `a year before: ${energy?.yearBefore} kWh`,
      );
      t.ok(fromInflux.yearBefore.coverage > 0.9, `a year before covered: ${fromInflux.yearBefore.coverage}`);
    }
  });
}

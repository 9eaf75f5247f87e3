import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { openRecords } from '../database/database.ts';
import { loadProfiles } from '../device-profiles/registry.ts';
import { DEMO_NETWORK_DIR, DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { markerFile, readMarker, writeMarker } from '../simulations/history/marker.ts';
import { siteMeters } from '../simulations/history/meters.ts';
import { historyTimes, planBackfill } from '../simulations/history/plan.ts';
import { loadSite } from '../site/load.ts';
import { InfluxV1Store } from '../storage/influx-v1-store.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { requireComponent } from '../test-support/component.ts';
import { INFLUXD_INSTALL, influxdAvailable, startInfluxd } from '../test-support/influxd.ts';
import { startRunningSystem } from '../test-support/running-system.ts';
import { runWesprint } from '../test-support/wesprint-process.ts';

// Real `wesprint` processes writing simulated history: ~80 s on an idle 2-core machine; the runner is told
// this file's own limit, so a busy machine does not turn slowness into a failure.
t.setTimeout(600_000);

/** `wesprint simulate --backfill` as a user runs it: a real process on a temp DATA_DIR. */

const DAY = 86_400_000;
const profiles = await loadProfiles();

const run = runWesprint;

function tempDataDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-backfill-cli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('wesprint simulate --backfill 2d writes two days of history, once', async (t) => {
  const dataDir = tempDataDir(t);
  const env = { DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
  // The quarter hour in which the first run plans the bookings ahead (see the second run below).
  const quarterOf = (ms: number) => Math.floor(ms / (15 * 60_000));
  const firstQuarter = quarterOf(Date.now());
  const first = await run(['simulate', '--backfill', '2d'], env);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stderr, /backfill: 2\/2 days, \d+ readings, \d+ readings\/s/, 'progress on stderr');
  t.match(
    first.stdout,
    /backfill: .* 0 quarantined, \d+ bookings added .*, [1-9]\d* bookings ahead added .*; meter \S+ rebooted/,
  );
  t.equal(readMarker(dataDir)?.finishedAt !== null, true);

  const store = new SqliteStore({ file: path.join(dataDir, 'readings.db') });
  t.teardown(() => store.close());
  const marker = readMarker(dataDir);
  const end = marker?.plan.end ?? 0;
  const energy = await store.query({ quantity: 'energy', from: end - 2 * DAY, to: end, aggregate: 'count' });
  const site = loadSite(DEMO_SITE_FILE);
  t.equal(
    new Set(energy.map((s) => s.device)).size,
    siteMeters(site, profiles).length,
    'every meter of the demo has a history',
  );
  const records = openRecords(path.join(dataDir, 'wesprint.db'));
  t.teardown(() => records.close());
  const count = (where: string) =>
    records.prepare(`SELECT count(*) FROM bookings WHERE ${where}`).pluck().get(end) as number;
  const bookings = count('start_ms < ?');
  // How many depends on the weekdays the two days fall on (fewest on a weekend).
  t.ok(bookings > 0, `${bookings} bookings`);
  const ahead = count('start_ms >= ?');
  t.ok(ahead > 0, `${ahead} bookings for the rest of today and tomorrow`);
  const demo = records
    .prepare(
      `SELECT count(*) FROM bookings JOIN members ON members.id = member_id
       WHERE email NOT LIKE 'sim-%' AND series_id IS NULL`,
    )
    .pluck()
    .get() as number;
  t.ok(demo <= 9, `the demo members hold ${demo} bookings, the simulated members the rest`);
  // The civic series of the Diskursraum (simulations/history/civic-series.ts), by the facility manager.
  t.same(
    records.prepare('SELECT title FROM events ORDER BY title').pluck().all(),
    ['Freitagsrunde', 'Offener Abend', 'Zukunftswerkstatt'],
    'the civic series are public events',
  );

  const second = await run(['simulate', '--backfill', '2d'], env);
  t.equal(second.code, 0, second.stderr);
  // Later runs write only the bookings ahead: the same ones (a few more if a quarter hour has passed). A
  // booking ahead the store refused on the first run (it met one of the history's running into the hour) is
  // planned again and refused again, no more and no fewer within the same quarter hour.
  const refusedOf = (stdout: string) =>
    Number(/bookings ahead added \(\d+ there already, (\d+) refused\)/.exec(stdout)?.[1]);
  const sameQuarter = quarterOf(Date.now()) === firstQuarter;
  t.match(
    second.stdout,
    /has its history already .*; \d+ bookings ahead added \([1-9]\d* there already, \d+ refused\)/,
  );
  if (sameQuarter)
    t.equal(refusedOf(second.stdout), refusedOf(first.stdout), 'refused again as on the first run, no more');
  t.equal(count('start_ms < ?'), bookings, 'no booking twice');
});

t.test(
  'a history planned by a first start and not begun is written, not "going on" with an interruption',
  async (t) => {
    // `wesprint start` writes the plan before its history process runs; that process said it went on with
    // an interrupted history on every fresh demo.
    const site = loadSite(DEMO_SITE_FILE);
    const cases = [
      { name: 'planned', skip: 0, line: /backfill: writing 2 days of history up to \d{4}-\d{2}-\d{2}\n/ },
      { name: 'interrupted', skip: 1, line: /backfill: going on with the interrupted history up to / },
    ];
    for (const { name, skip, line } of cases) {
      const dataDir = tempDataDir(t);
      const plan = planBackfill(site, profiles, { spanMs: 2 * DAY });
      const first = historyTimes(plan)[0] ?? plan.end;
      writeMarker(dataDir, { plan, doneUntil: first + skip * DAY, bookingsDone: false, finishedAt: null });
      const r = await run(['simulate', '--backfill', '2d'], { DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
      t.equal(r.code, 0, r.stderr);
      t.match(r.stderr, line, name);
    }
  },
);

t.test('bad arguments exit non-zero with a message that says what to write', async (t) => {
  const dataDir = tempDataDir(t);
  const env = { DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
  const cases = [
    [['--backfill', '5x'], /--backfill "5x": write a number of days or hours, e\.g\. 400d or 36h/],
    [['--backfill', '0d'], /between 1h and 1096d/],
    [['--backfill', '4000d'], /between 1h and 1096d/],
    [['--backfill', '2d', '--step', '7m'], /--step "7m": one of 15m, 30m, 45m, 1h/],
    [['--step', '1h'], /--backfill needs a span, e\.g\. --backfill 400d/],
    [['--backfill'], /--backfill/],
    [['--backfill', '2d', '--speed', '3'], /--speed/],
    [['--backfill', '2d', '--sites', '0'], /--sites 0 must be a whole number of sites, 1 or more/],
  ] as const;
  const results = await Promise.all(cases.map(([args]) => run(['simulate', ...args], env)));
  for (const [i, [args, message]] of cases.entries()) {
    const r = results[i] as Awaited<ReturnType<typeof run>>;
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, /^wesprint simulate: /, 'one line for the user');
    t.match(r.stderr, message);
    t.notMatch(r.stderr, /\n {4}at /, 'no stack trace');
  }
  t.notOk(fs.existsSync(markerFile(dataDir)), 'nothing planned');
});

t.test(
  'with InfluxDB configured the history goes into it: raw within retention, hourly rollups before',
  async (t) => {
    if (!requireComponent(t, influxdAvailable(), 'InfluxDB 1.x (influxd)', INFLUXD_INSTALL)) return;
    const influxd = await startInfluxd();
    t.teardown(() => influxd.dispose());
    const dataDir = tempDataDir(t);
    // The demo's ground floor, so that 35 days take seconds.
    const demo = loadSite(DEMO_SITE_FILE);
    const spaces = demo.spaces.filter((s) => s.floor === 'eg');
    const ids = new Set(spaces.map((s) => s.id));
    const siteFile = path.join(dataDir, 'ground-floor.site.json');
    fs.writeFileSync(
      siteFile,
      JSON.stringify({
        ...demo,
        floors: demo.floors.filter((f) => f.id === 'eg'),
        spaces,
        devices: demo.devices.filter((d) => ids.has(d.space)),
      }),
    );
    const env = {
      DATA_DIR: dataDir,
      SITE_FILE: siteFile,
      LOG_LEVEL: 'silent',
      INFLUX_URL: influxd.url,
      INFLUX_DATABASE: 'history',
    };
    const r = await run(['simulate', '--backfill', '35d'], env);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /backfill: .* 0 quarantined/);
    const end = readMarker(dataDir)?.plan.end ?? 0;
    const count = async (sql: string) => {
      const res = await fetch(`${influxd.url}/query?db=history&epoch=ms&q=${encodeURIComponent(sql)}`);
      const body = (await res.json()) as { results: { series?: { values: unknown[][] }[] }[] };
      return Number(body.results[0]?.series?.[0]?.values[0]?.[1] ?? 0);
    };
    const retention = end - 30 * DAY;
    t.equal(
      await count(`SELECT count("value") FROM "raw"."energy" WHERE time < ${retention}ms`),
      0,
      'no raw past retention',
    );
    t.ok(
      (await count(`SELECT count("value") FROM "raw"."energy" WHERE time >= ${retention}ms`)) > 0,
      'raw within it',
    );
    t.ok(
      (await count(`SELECT count("consumption") FROM "hourly"."energy" WHERE time < ${retention}ms`)) >=
        4 * 24,
      'hourly consumption before it',
    );
    const store = new InfluxV1Store({ url: influxd.url, database: 'history', now: () => end });
    const main = demo.devices.find((d) => d.meter_role === 'main' && ids.has(d.space))?.id;
    const [daily] = await store.query({
      quantity: 'energy',
      device: main,
      from: end - 35 * DAY,
      to: end,
      bucketMs: DAY,
      aggregate: 'consumption',
    });
    t.ok((daily?.points.length ?? 0) >= 34, `the main meter's days: ${daily?.points.length}`);

    const again = await run(['simulate', '--backfill', '35d'], env);
    t.equal(again.code, 0);
    t.match(again.stdout, /has its history already/);
  },
);

t.test('a DATA_DIR with readings but no history gets none: it would end before them', async (t) => {
  const dataDir = tempDataDir(t);
  const store = new SqliteStore({ file: path.join(dataDir, 'readings.db') });
  await store.write([
    {
      device: 'x',
      channel: '0',
      quantity: 'co2',
      value: 500,
      unit: 'ppm',
      ts: Date.now(),
      site: 's',
      space: 'y',
    },
  ]);
  await store.close();
  const r = await run(['simulate', '--backfill', '2d'], { DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
  t.equal(r.code, 1);
  t.match(r.stderr, /has readings already; history is only written .* without readings/);
});

t.test(
  'the first wesprint start writes the history in the background and the live meters go on from it',
  async (t) => {
    const system = await startRunningSystem({ env: { BACKFILL_DAYS: '2' } });
    t.teardown(() => system.stop());
    t.match(system.lines.join('\n'), /History\s+2d of the past being written in the background/);
    const plan = readMarker(system.dataDir)?.plan;
    if (!plan) throw new Error('no plan written at start');

    // Failure guard only: two days of history take a few seconds.
    for (let waited = 0; readMarker(system.dataDir)?.finishedAt === null; waited += 200) {
      if (waited > 120_000) throw new Error('the background history did not finish');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    const store = new SqliteStore({ file: path.join(system.dataDir, 'readings.db') });
    t.teardown(() => store.close());
    const meters = siteMeters(system.site, profiles);
    for (const meter of meters) {
      const [history] = await store.query({
        quantity: 'energy',
        device: meter.id,
        from: plan.end - plan.spanMs,
        to: plan.end,
        aggregate: 'last',
      });
      const lastOfHistory = history?.points[0]?.value;
      t.ok(lastOfHistory !== undefined, `${meter.id} has a history`);
      // The live meters reported at once when they connected (their birth message).
      const [live] = await store.query({
        quantity: 'energy',
        device: meter.id,
        from: plan.end,
        to: Date.now() + 60_000,
        aggregate: 'min',
      });
      const firstLive = live?.points[0]?.value;
      if (firstLive === undefined) continue;
      t.ok(firstLive >= (lastOfHistory as number), `${meter.id}: live goes on from the history, no reset`);
      t.ok(
        firstLive * 1000 - (plan.endCounters[meter.id] as number) < 5,
        `${meter.id}: starts where the history ends`,
      );
    }
    const [latest] = await store.latest({ device: meters[0]?.id, quantity: 'energy' });
    t.ok((latest?.ts ?? 0) >= plan.end, 'the latest value is the live one');

    const records = openRecords(path.join(system.dataDir, 'wesprint.db'));
    t.teardown(() => records.close());
    const ahead = records
      .prepare(
        `SELECT count(*) FROM bookings JOIN members ON members.id = member_id
         WHERE start_ms >= ? AND status = 'booked' AND email LIKE 'sim-%'`,
      )
      .pluck()
      .get(plan.end) as number;
    t.ok(ahead > 0, `${ahead} bookings of the simulated members ahead, for the live check-in to confirm`);
  },
);

t.test('a running system without a past (BACKFILL_DAYS=0) has no simulated bookings', async (t) => {
  const system = await startRunningSystem();
  t.teardown(() => system.stop());
  const records = openRecords(path.join(system.dataDir, 'wesprint.db'));
  t.teardown(() => records.close());
  t.equal(records.prepare('SELECT count(*) FROM bookings').pluck().get(), 0);
  t.notMatch(system.lines.join('\n'), /Bookings|History/);
});

t.test(
  'the first wesprint start of a network writes every house its history, each house its own members',
  async (t) => {
    // The demo's first two houses: before, the history process was handed SITE_FILE beside SITES_DIR and
    // refused to run, and only the home site (the Kaufhaus) was planned.
    const sitesDir = tempDataDir(t);
    for (const file of ['01-kaufhaus-am-markt.site.yaml', '02-werkhof-weimar.site.yaml'])
      fs.copyFileSync(path.join(DEMO_NETWORK_DIR, file), path.join(sitesDir, file));
    const system = await startRunningSystem({ env: { SITES_DIR: sitesDir, BACKFILL_DAYS: '2' } });
    t.teardown(() => system.stop());
    t.match(system.lines.join('\n'), /History\s+2d of the past .*, for each of 2 houses/);
    const markers = [undefined, 'werkhof-weimar'];
    // Failure guard only: two days of two houses take a few seconds.
    for (
      let waited = 0;
      markers.some((m) => readMarker(system.dataDir, m)?.finishedAt === null);
      waited += 200
    ) {
      if (waited > 180_000) throw new Error('the background histories did not finish');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const werkhof = loadSite(path.join(sitesDir, '02-werkhof-weimar.site.yaml'));
    const plan = readMarker(system.dataDir, 'werkhof-weimar')?.plan;
    if (!plan) throw new Error("no plan of the Werkhof's");
    const store = new SqliteStore({ file: path.join(system.dataDir, 'readings.db') });
    t.teardown(() => store.close());
    for (const meter of siteMeters(werkhof, profiles)) {
      const [history] = (
        await store.query({
          quantity: 'energy',
          device: meter.id,
          from: plan.end - plan.spanMs,
          to: plan.end,
          aggregate: 'last',
        })
      ).filter((s) => s.site === 'werkhof-weimar');
      t.ok(history?.points[0] !== undefined, `the Werkhof's ${meter.id} has a history`);
      const [live] = (
        await store.query({
          quantity: 'energy',
          device: meter.id,
          from: plan.end,
          to: Date.now() + 60_000,
          aggregate: 'min',
        })
      ).filter((s) => s.site === 'werkhof-weimar');
      const firstLive = live?.points[0]?.value;
      if (firstLive === undefined) continue;
      t.ok(
        firstLive * 1000 - (plan.endCounters[meter.id] as number) < 5,
        `${meter.id}: the live meter starts where the Werkhof's history ends`,
      );
    }
    const records = openRecords(path.join(system.dataDir, 'wesprint.db'));
    t.teardown(() => records.close());
    const booked = records
      .prepare(
        `SELECT count(*) FROM bookings JOIN members ON members.id = member_id
         WHERE bookings.site = 'werkhof-weimar' AND members.home_site = 'werkhof-weimar'`,
      )
      .pluck()
      .get() as number;
    t.ok(booked > 0, `${booked} bookings in the Werkhof by its own members`);
  },
);

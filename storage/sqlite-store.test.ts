import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { runStoreContract } from './contract.ts';
import { SqliteStore } from './sqlite-store.ts';
import type { Series, StoredReading } from './store.ts';

const dir = t.testdir({});
let n = 0;
const file = () => path.join(dir, `readings-${++n}.db`);

await runStoreContract(t, 'sqlite', async () => new SqliteStore({ file: file() }));
// The gateway's store: the same contract with write() on the write thread.
await runStoreContract(
  t,
  'sqlite, write thread',
  async () => new SqliteStore({ file: file(), writeThread: true }),
);

t.test('write thread: a failed transaction rejects the write and leaves nothing of its batch', async (t) => {
  const f = file();
  const store = new SqliteStore({ file: f, writeThread: true });
  t.teardown(() => store.close());
  const at = Date.UTC(2026, 0, 5, 10);
  const reading = (device: string, ts: number): StoredReading => ({
    site: 's',
    space: 'room',
    device,
    channel: '0',
    quantity: 'power',
    unit: 'W',
    ts,
    value: 5,
  });
  await store.write([reading('a', at)]);
  // Committed once write() resolved: another connection sees it.
  const other = new Database(f);
  t.teardown(() => other.close());
  t.equal(other.prepare('SELECT count(*) FROM reading').pluck().get(), 1);
  // The transaction's second statement fails: its first (the reading) is rolled back with it.
  other.exec('DROP TABLE latest');
  await t.rejects(store.write([reading('b', at)]), { name: 'SqliteError', message: /latest/ });
  t.equal(other.prepare('SELECT count(*) FROM reading').pluck().get(), 1, 'nothing of the failed batch');
  // The thread goes on taking writes once the cause is gone.
  other.exec(
    'CREATE TABLE latest (site TEXT NOT NULL, device TEXT NOT NULL, channel TEXT NOT NULL, quantity TEXT NOT NULL, ts INTEGER NOT NULL, space TEXT NOT NULL, unit TEXT NOT NULL, num REAL, str TEXT, PRIMARY KEY (site, device, channel, quantity)) WITHOUT ROWID',
  );
  await store.write([reading('b', at)]);
  t.equal(other.prepare('SELECT count(*) FROM reading').pluck().get(), 2);
  await store.close();
  await t.rejects(store.write([reading('c', at)]), /closed/);
});

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A fixed UTC midnight, so hours and days in the expectations are easy to read. */
const D0 = Date.UTC(2026, 0, 5);

const energy = (ts: number, value: number, device = 'meter-1'): StoredReading => ({
  site: 'kaufhaus',
  space: 'hall',
  device,
  channel: '0',
  quantity: 'energy',
  unit: 'kWh',
  ts,
  value,
});
const co2 = (ts: number, value: number): StoredReading => ({
  site: 'kaufhaus',
  space: 'hall',
  device: 'co2-1',
  channel: '0',
  quantity: 'co2',
  unit: 'ppm',
  ts,
  value,
});

t.test('hourly rollups replace raw readings past retention, queries stay the same', async (t) => {
  const store = new SqliteStore({ file: file(), rawRetentionDays: 2 });
  t.teardown(() => store.close());
  // Three days: a counter reading every 15 min climbing 0.25 kWh, with a reboot on day 0 at 10:20,
  // and CO2 every 15 min.
  const readings: StoredReading[] = [];
  let counter = 1000;
  for (let ts = D0; ts < D0 + 3 * DAY; ts += 15 * 60_000) {
    counter = ts === D0 + 10 * HOUR + 30 * 60_000 ? 0.25 : counter + 0.25;
    readings.push(energy(ts, counter), co2(ts, 400 + ((ts / 60_000) % 600)));
  }
  await store.write(readings);
  const dayQuery = { quantity: 'energy', from: D0, to: D0 + 3 * DAY, bucketMs: DAY } as const;
  const before = await store.query({ ...dayQuery, aggregate: 'consumption' });
  // Day 0: 95 steps of 0.25 kWh, except the reboot step, which counts 0.25 too: 23.75 kWh.
  t.same(
    before[0]?.points.map((p) => p.value),
    [23.75, 24, 24],
  );
  const hourly = { quantity: 'co2', from: D0, to: D0 + 3 * DAY, bucketMs: HOUR } as const;
  const snapshot = async () => ({
    consumption: await store.query({ ...dayQuery, aggregate: 'consumption' }),
    total: await store.query({ quantity: 'energy', from: D0, to: D0 + 3 * DAY, aggregate: 'consumption' }),
    mean: await store.query({ ...hourly, aggregate: 'mean' }),
    min: await store.query({ ...hourly, bucketMs: 6 * HOUR, aggregate: 'min' }),
    max: await store.query({ ...hourly, aggregate: 'max' }),
    last: await store.query({ ...hourly, bucketMs: DAY, aggregate: 'last' }),
    count: await store.query({ ...hourly, bucketMs: DAY, aggregate: 'count' }),
  });
  const expected = await snapshot();
  t.same(expected.total[0]?.points, [{ ts: D0, value: 71.75 }]);

  const now = D0 + 3 * DAY + 30 * 60_000;
  const report = await store.maintain(now);
  t.equal(report.rolledUpUntil, D0 + 3 * DAY);
  t.equal(report.rawKeptFrom, D0 + DAY, 'raw kept for 2 days, whole hours');
  t.equal(report.prunedReadings, 2 * 96, 'day 0 of both series pruned');
  t.same(await snapshot(), expected, 'same answers from rollups + raw');

  const fine = await store.query({
    quantity: 'co2',
    from: D0,
    to: D0 + 3 * DAY,
    bucketMs: 15 * 60_000,
    aggregate: 'count',
  });
  t.equal(fine[0]?.points[0]?.ts, D0 + DAY, 'sub-hour buckets come from raw readings only');

  const again = await store.maintain(now);
  t.equal(again.prunedReadings, 0, 'maintain is idempotent');
  t.same(await snapshot(), expected);
});

t.test('late readings (spool replay) re-roll the hours they land in', async (t) => {
  const f = file();
  const store = new SqliteStore({ file: f, rawRetentionDays: 1 });
  t.teardown(() => store.close());
  await store.write([energy(D0, 10), energy(D0 + 2 * HOUR, 12)]);
  await store.maintain(D0 + 3 * HOUR);
  // The outage's readings arrive after hours 0..2 were rolled up.
  await store.write([energy(D0 + 30 * 60_000, 10.5), energy(D0 + 90 * 60_000, 11)]);
  await store.maintain(D0 + 3 * HOUR);
  // Past raw retention: only rollups answer, and they must include the late readings.
  await store.maintain(D0 + 3 * DAY);
  const [series] = await store.query({
    quantity: 'energy',
    from: D0,
    to: D0 + 3 * HOUR,
    bucketMs: HOUR,
    aggregate: 'consumption',
  });
  t.same(series?.points, [
    { ts: D0, value: 0.5 },
    { ts: D0 + HOUR, value: 0.5 },
    { ts: D0 + 2 * HOUR, value: 1 },
  ]);
  const [count] = await store.query({ quantity: 'energy', from: D0, to: D0 + 3 * HOUR, aggregate: 'count' });
  t.same(count?.points, [{ ts: D0, value: 4 }]);
  t.equal((await store.latest({ device: 'meter-1' }))[0]?.value, 12, 'latest survives retention');

  // Later than the raw retention: folded into the hour's rollup (counted; consumption left as it was).
  await store.write([energy(D0 + 45 * 60_000, 10.75)]);
  const folded = await store.maintain(D0 + 3 * DAY);
  t.equal(folded.prunedReadings, 1, 'the late raw reading is pruned once folded in');
  const [recount] = await store.query({
    quantity: 'energy',
    from: D0,
    to: D0 + 3 * HOUR,
    aggregate: 'count',
  });
  t.same(recount?.points, [{ ts: D0, value: 5 }]);
  const [max] = await store.query({ quantity: 'energy', from: D0, to: D0 + HOUR, aggregate: 'max' });
  t.same(max?.points, [{ ts: D0, value: 10.75 }]);
});

t.test('survives reopening the file; unwritable values are skipped, not fatal', async (t) => {
  const f = file();
  const first = new SqliteStore({ file: f });
  await first.write([co2(D0, 400), co2(Number.NaN, 1), co2(D0 + 1, Number.POSITIVE_INFINITY)]);
  await first.close();
  t.equal(await first.ping(), false, 'a closed store does not answer');
  await t.rejects(first.write([co2(D0 + 2, 500)]), 'a closed store rejects writes');
  const second = new SqliteStore({ file: f });
  t.teardown(() => second.close());
  t.same(
    (await second.latest()).map((r) => r.value),
    [400],
  );
  t.ok(fs.existsSync(f));
});

t.test('rollup queries answer as the raw readings did, device by device and bucket by bucket', async (t) => {
  // The same four days written into a store that keeps them raw and one that rolls three of them up and
  // prunes them: every aggregate, bucket width and filter must give the same series.
  const kept = new SqliteStore({ file: file(), rawRetentionDays: 30 });
  const rolled = new SqliteStore({ file: file(), rawRetentionDays: 1 });
  t.teardown(() => Promise.all([kept.close(), rolled.close()]).then(() => undefined));
  const at = (
    device: string,
    space: string,
    ts: number,
    value: number | string,
    channel = '0',
  ): StoredReading => ({
    site: 'kaufhaus',
    space,
    device,
    channel,
    quantity: 'occupancy',
    unit: 'bool',
    ts,
    value,
  });
  const readings: StoredReading[] = [];
  for (let ts = D0; ts < D0 + 4 * DAY; ts += 20 * 60_000) {
    const minute = ts / 60_000;
    readings.push(at('desk-b', 'og1', ts, minute % 7 < 3 ? 1 : 0));
    // A second channel of the same device, at the same instants: a series of its own.
    readings.push(at('desk-b', 'og1', ts, minute % 5 < 2 ? 1 : 0, '1'));
    // Silent on day 1: its hours have no rollup rows at all.
    if (ts < D0 + DAY || ts >= D0 + 2 * DAY) readings.push(at('desk-a', 'eg', ts, (minute % 11) / 10));
    // A device that only ever says words: counted, but never a number.
    if (ts % HOUR === 0) readings.push(at('Desk-C', 'eg', ts, 'unknown'));
  }
  await kept.write(readings);
  await rolled.write(readings);
  const report = await rolled.maintain(D0 + 4 * DAY + 10 * 60_000);
  t.equal(report.rawKeptFrom, D0 + 3 * DAY, 'three days now only in rollups');

  // A sum of hour sums may differ from the sum of the readings in the last bit.
  const nearly = (series: Series[]) =>
    series.map((s) => ({
      ...s,
      points: s.points.map((p) => ({ ts: p.ts, value: p.value.toPrecision(12) })),
    }));
  const aggregates = ['mean', 'min', 'max', 'last', 'count', 'consumption'] as const;
  const ranges = [
    { from: D0, to: D0 + 4 * DAY, bucketMs: HOUR },
    { from: D0, to: D0 + 4 * DAY, bucketMs: DAY },
    { from: D0 + 5 * HOUR, to: D0 + 3 * DAY + 7 * HOUR, bucketMs: 6 * HOUR },
    { from: D0, to: D0 + 4 * DAY },
    { from: D0 + 2 * HOUR, to: D0 + 2 * DAY },
  ];
  const filters = [
    {},
    { space: 'eg' },
    { device: 'desk-a' },
    { device: 'nobody' },
    { device: 'desk-b', channel: '1' },
    { channel: '0' },
  ];
  let compared = 0;
  for (const aggregate of aggregates)
    for (const range of ranges)
      for (const filter of filters) {
        const q = { quantity: 'occupancy', aggregate, ...range, ...filter };
        t.same(nearly(await rolled.query(q)), nearly(await kept.query(q)), JSON.stringify(q));
        compared++;
      }
  t.equal(compared, 180);
  const hourly = await rolled.query({
    quantity: 'occupancy',
    aggregate: 'count',
    from: D0,
    to: D0 + 4 * DAY,
    bucketMs: HOUR,
  });
  t.same(
    hourly.map((s) => [s.device, s.channel, s.space, s.points.length]),
    [
      ['Desk-C', '0', 'eg', 96],
      ['desk-a', '0', 'eg', 72],
      ['desk-b', '0', 'og1', 96],
      ['desk-b', '1', 'og1', 96],
    ],
    'series in order, the silent day absent, words counted',
  );
});

t.test('a DATA_DIR from before channels counted opens migrated: its series are channel 0', async (t) => {
  const f = file();
  // The schema as it was (series keyed by device and quantity, rollups and dirty hours without a site),
  // filled by that code: two days of a counter, the first rolled up and pruned, one hour marked dirty.
  const old = new Database(f);
  old.exec(`
    CREATE TABLE reading (
      device TEXT NOT NULL, quantity TEXT NOT NULL, ts INTEGER NOT NULL,
      site TEXT NOT NULL, space TEXT NOT NULL, unit TEXT NOT NULL, num REAL, str TEXT,
      PRIMARY KEY (device, quantity, ts)) WITHOUT ROWID;
    CREATE INDEX reading_by_quantity_ts ON reading (quantity, ts);
    CREATE TABLE rollup_hour (
      device TEXT NOT NULL, quantity TEXT NOT NULL, hour INTEGER NOT NULL, space TEXT NOT NULL, unit TEXT NOT NULL,
      count INTEGER NOT NULL, num_count INTEGER NOT NULL, sum REAL NOT NULL, min REAL, max REAL,
      last REAL, last_ts INTEGER, consumption REAL, PRIMARY KEY (device, quantity, hour)) WITHOUT ROWID;
    CREATE INDEX rollup_by_quantity_hour ON rollup_hour (quantity, hour);
    CREATE TABLE latest (
      device TEXT NOT NULL, quantity TEXT NOT NULL, ts INTEGER NOT NULL,
      site TEXT NOT NULL, space TEXT NOT NULL, unit TEXT NOT NULL, num REAL, str TEXT,
      PRIMARY KEY (device, quantity)) WITHOUT ROWID;
    CREATE TABLE dirty_hour (device TEXT NOT NULL, quantity TEXT NOT NULL, hour INTEGER NOT NULL,
      PRIMARY KEY (device, quantity, hour)) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);`);
  const insert = old.prepare(
    "INSERT INTO reading VALUES ('meter-1', 'energy', ?, 'kaufhaus', 'hall', 'kWh', ?, NULL)",
  );
  for (let h = 24; h < 48; h++) insert.run(D0 + h * HOUR, 100 + h);
  const rollup = old.prepare(`INSERT INTO rollup_hour VALUES
    ('meter-1', 'energy', ?, 'hall', 'kWh', 1, 1, ?, ?, ?, ?, ?, 1)`);
  for (let h = 0; h < 24; h++) rollup.run(D0 + h * HOUR, 100 + h, 100 + h, 100 + h, 100 + h, D0 + h * HOUR);
  old.exec(`
    INSERT INTO latest VALUES ('meter-1', 'energy', ${D0 + 47 * HOUR}, 'kaufhaus', 'hall', 'kWh', 147, NULL);
    INSERT INTO dirty_hour VALUES ('meter-1', 'energy', ${D0 + 30 * HOUR});
    INSERT INTO meta VALUES ('rolled_up_until', ${D0 + 24 * HOUR}), ('raw_kept_from', ${D0 + 24 * HOUR});`);
  old.close();

  const store = new SqliteStore({ file: f, rawRetentionDays: 30 });
  t.teardown(() => store.close());
  const days = {
    quantity: 'energy',
    from: D0,
    to: D0 + 2 * DAY,
    bucketMs: DAY,
    aggregate: 'consumption',
  } as const;
  const migrated = await store.query(days);
  t.same(
    migrated.map((s) => [s.site, s.device, s.channel, s.space, s.points.map((p) => p.value)]),
    [['kaufhaus', 'meter-1', '0', 'hall', [24, 24]]],
    'rollups (day 0) and raw readings (day 1) are channel 0 of their device, with the site latest named',
  );
  t.same(
    (await store.latest()).map((r) => [r.site, r.device, r.channel, r.value]),
    [['kaufhaus', 'meter-1', '0', 147]],
  );
  // The other phases now arrive as their own series, at the same instants, and overwrite nothing.
  await store.write([
    { ...energy(D0 + 47 * HOUR, 5), channel: '1' },
    { ...energy(D0 + 47 * HOUR + 30 * 60_000, 6), channel: '1' },
  ]);
  t.same(
    (await store.query(days)).map((s) => [s.channel, s.points.map((p) => p.value)]),
    [
      ['0', [24, 24]],
      ['1', [1]],
    ],
  );
  const report = await store.maintain(D0 + 2 * DAY);
  t.ok(report.rolledUp > 0, 'the dirty hour and the new hours roll up');
  t.same(
    (await store.query(days)).map((s) => [s.channel, s.points.map((p) => p.value)]),
    [
      ['0', [24, 24]],
      ['1', [1]],
    ],
    'the same after maintenance',
  );
  await store.close();
  const again = new SqliteStore({ file: f });
  t.teardown(() => again.close());
  t.same((await again.query(days)).length, 2, 'opening a migrated file again changes nothing');
});

t.test(
  'a file whose readings are keyed by name opens migrated to series ids, answering as before',
  async (t) => {
    // The same readings written by this code into a new file, and into a file with the schema as it was before
    // series ids (readings keyed by their names, indexed by (quantity, ts)): two channels of a meter, a CO2
    // sensor, a text reading.
    const readings: StoredReading[] = [];
    for (let ts = D0; ts < D0 + 2 * DAY; ts += 15 * 60_000) {
      const kwh = 1000 + (ts - D0) / HOUR;
      readings.push(energy(ts, kwh), { ...energy(ts, kwh / 2), channel: '1' }, co2(ts, 400 + (ts % 97)));
    }
    readings.push({
      ...co2(D0 + HOUR, 0),
      quantity: 'lock',
      unit: 'state',
      value: 'locked',
    } as StoredReading);
    const fresh = new SqliteStore({ file: file() });
    t.teardown(() => fresh.close());
    await fresh.write(readings);

    const f = file();
    const old = new Database(f);
    old.exec(`
    CREATE TABLE reading (
      site TEXT NOT NULL, device TEXT NOT NULL, channel TEXT NOT NULL, quantity TEXT NOT NULL, ts INTEGER NOT NULL,
      space TEXT NOT NULL, unit TEXT NOT NULL, num REAL, str TEXT,
      PRIMARY KEY (site, device, channel, quantity, ts)) WITHOUT ROWID;
    CREATE INDEX reading_by_quantity_ts ON reading (quantity, ts);
    CREATE TABLE rollup_hour (
      site TEXT NOT NULL, device TEXT NOT NULL, channel TEXT NOT NULL, quantity TEXT NOT NULL, hour INTEGER NOT NULL,
      space TEXT NOT NULL, unit TEXT NOT NULL,
      count INTEGER NOT NULL, num_count INTEGER NOT NULL, sum REAL NOT NULL, min REAL, max REAL,
      last REAL, last_ts INTEGER, consumption REAL,
      PRIMARY KEY (site, device, channel, quantity, hour)) WITHOUT ROWID;
    CREATE INDEX rollup_by_quantity_hour ON rollup_hour (quantity, hour);
    CREATE TABLE latest (
      site TEXT NOT NULL, device TEXT NOT NULL, channel TEXT NOT NULL, quantity TEXT NOT NULL, ts INTEGER NOT NULL,
      space TEXT NOT NULL, unit TEXT NOT NULL, num REAL, str TEXT,
      PRIMARY KEY (site, device, channel, quantity)) WITHOUT ROWID;
    CREATE TABLE dirty_hour (
      site TEXT NOT NULL, device TEXT NOT NULL, channel TEXT NOT NULL, quantity TEXT NOT NULL, hour INTEGER NOT NULL,
      PRIMARY KEY (site, device, channel, quantity, hour)) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);`);
    const insert = old.prepare('INSERT INTO reading VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const newest = new Map<string, unknown[]>();
    for (const r of readings) {
      const row = [r.site, r.device, r.channel, r.quantity, r.ts, r.space, r.unit];
      const values = typeof r.value === 'number' ? [r.value, null] : [null, r.value];
      insert.run(...row, ...values);
      newest.set([r.site, r.device, r.channel, r.quantity].join('/'), [...row, ...values]);
    }
    const latest = old.prepare('INSERT INTO latest VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    for (const row of newest.values()) latest.run(...row);
    old.close();

    const store = new SqliteStore({ file: f, rawRetentionDays: 30 });
    t.teardown(() => store.close());
    const look = new Database(f, { readonly: true });
    t.same(
      look.prepare("SELECT name, type FROM sqlite_master WHERE name IN ('reading', 'old_reading')").all(),
      [{ name: 'reading', type: 'view' }],
      'the readings moved into series_reading, `reading` is their view',
    );
    t.equal(look.prepare('SELECT count(*) FROM series_reading').pluck().get(), readings.length);
    look.close();
    const answers = async (s: SqliteStore) => ({
      consumption: await s.query({
        quantity: 'energy',
        from: D0,
        to: D0 + 2 * DAY,
        bucketMs: HOUR,
        aggregate: 'consumption',
      }),
      mean: await s.query({
        quantity: 'co2',
        from: D0,
        to: D0 + 2 * DAY,
        bucketMs: 6 * HOUR,
        aggregate: 'mean',
      }),
      last: await s.query({
        quantity: 'energy',
        channel: '1',
        device: 'meter-1',
        from: D0,
        to: D0 + 2 * DAY,
        aggregate: 'last',
      }),
      count: await s.query({
        quantity: 'co2',
        space: 'hall',
        from: D0,
        to: D0 + 2 * DAY,
        bucketMs: DAY,
        aggregate: 'count',
      }),
      latest: await s.latest(),
    });
    const expected = await answers(fresh);
    t.equal(expected.consumption.length, 2, 'both channels');
    t.same(await answers(store), expected, 'the migrated file answers as one written by this code');
    t.same(
      await store.maintain(D0 + 2 * DAY),
      await fresh.maintain(D0 + 2 * DAY),
      'maintenance rolls up and keeps the same readings',
    );
    t.same(await answers(store), expected, 'and after maintenance');
    await store.write([energy(D0 + 2 * DAY, 2000), energy(D0 + HOUR, 7)]);
    await fresh.write([energy(D0 + 2 * DAY, 2000), energy(D0 + HOUR, 7)]);
    t.same(await answers(store), await answers(fresh), 'new readings land in the migrated series');
    t.equal((await store.latest({ device: 'meter-1', channel: '0' }))[0]?.value, 2000);
    await store.close();
    const again = new SqliteStore({ file: f });
    t.teardown(() => again.close());
    t.same(await answers(again), await answers(fresh), 'opening a migrated file again changes nothing');
  },
);

t.test('a reading spooled without a channel (written before the upgrade) is channel 0', async (t) => {
  const store = new SqliteStore({ file: file() });
  t.teardown(() => store.close());
  const { channel: _, ...old } = energy(D0, 1);
  await store.write([old as StoredReading, { ...energy(D0 + HOUR, 2) }]);
  t.same(
    (await store.latest()).map((r) => [r.channel, r.value]),
    [['0', 2]],
  );
});

t.test(
  'opening waits for another process holding the file (a migration there) longer than 5 s',
  async (t) => {
    const f = file();
    await new SqliteStore({ file: f }).close();
    // Another connection in another thread holds the write lock for 6 s, as a second process migrating would.
    const { Worker } = await import('node:worker_threads');
    const holder = new Worker(
      `const Database = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))});
     const { parentPort } = require('node:worker_threads');
     const db = new Database(${JSON.stringify(f)});
     db.exec('BEGIN IMMEDIATE');
     parentPort.postMessage('locked');
     Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 6000);
     db.exec('COMMIT');
     db.close();`,
      { eval: true },
    );
    await new Promise((resolve) => holder.once('message', resolve));
    const started = Date.now();
    const store = new SqliteStore({ file: f });
    t.teardown(() => store.close());
    t.ok(Date.now() - started > 5000, `waited ${Date.now() - started} ms for the lock`);
    t.equal(await store.ping(), true);
    await new Promise((resolve) => holder.once('exit', resolve));
  },
);

t.test(
  'rollUpHistory keeps a past hour as a rollup (consumption included) and drops its raw readings',
  async (t) => {
    const store = new SqliteStore({ file: file(), rawRetentionDays: 30 });
    t.teardown(() => store.close());
    const now = Date.UTC(2026, 2, 12, 9, 0);
    // The live gateway has been maintaining this store: everything before now is rolled up already.
    await store.maintain(now);
    const hour = now - 40 * DAY;
    const reading = (ts: number, kwh: number) => ({
      device: 'meter',
      channel: '0',
      quantity: 'energy' as const,
      value: kwh,
      unit: 'kWh' as const,
      ts,
      site: 's',
      space: 'x',
    });
    // 100.0 → 100.5 → 0.2 (a reboot) → 0.4: 0.5 + 0.2 + 0.2 = 0.9 kWh used in those two hours.
    await store.write([
      reading(hour, 100),
      reading(hour + 30 * 60_000, 100.5),
      reading(hour + HOUR, 0.2),
      reading(hour + HOUR + 30 * 60_000, 0.4),
    ]);
    await store.rollUpHistory(hour, hour + 2 * HOUR, now);
    const [raw] = await store.query({
      quantity: 'energy',
      from: hour,
      to: hour + 2 * HOUR,
      bucketMs: 60_000,
      aggregate: 'count',
    });
    t.equal(raw, undefined, 'raw readings past retention are gone (minute buckets come only from raw)');
    const [used] = await store.query({
      quantity: 'energy',
      from: hour,
      to: hour + 2 * HOUR,
      bucketMs: HOUR,
      aggregate: 'consumption',
    });
    t.same(
      used?.points.map((p) => ({ ts: p.ts, value: Number(p.value.toFixed(6)) })),
      [
        { ts: hour, value: 0.5 },
        { ts: hour + HOUR, value: 0.4 },
      ],
      'hourly consumption from the rollups, the reboot counted as a restart',
    );
    const report = await store.maintain(now + 60_000);
    t.equal(report.rolledUp, 0, 'maintenance finds nothing left to do for those hours');

    // The live gateway's maintenance (another process) may come between the write and rollUpHistory.
    const day = hour - DAY;
    await store.write([reading(day, 50), reading(day + 30 * 60_000, 50.25), reading(day + HOUR, 50.5)]);
    await store.maintain(now + 2 * 60_000);
    await store.rollUpHistory(day, day + 2 * HOUR, now);
    const [raced] = await store.query({
      quantity: 'energy',
      from: day,
      to: day + 2 * HOUR,
      bucketMs: HOUR,
      aggregate: 'consumption',
    });
    t.same(
      raced?.points.map((p) => ({ ts: p.ts, value: Number(p.value.toFixed(6)) })),
      [
        { ts: day, value: 0.25 },
        { ts: day + HOUR, value: 0.25 },
      ],
      'maintenance rolled the never rolled-up hours up whole, consumption included',
    );
    const [after] = await store.query({
      quantity: 'energy',
      from: hour,
      to: hour + 2 * HOUR,
      aggregate: 'consumption',
    });
    t.equal(Number(after?.points[0]?.value.toFixed(6)), 0.9);
  },
);

t.test('a large batch stores what the same readings written one by one store', async (t) => {
  const now = D0 + 2 * DAY;
  const reading = (i: number, ts: number, value: number | string): StoredReading => ({
    site: 's',
    space: i % 7 === 0 ? 'hall' : 'room',
    device: `d${i % 13}`,
    channel: String(i % 2),
    quantity: i % 3 === 0 ? 'power' : 'temperature',
    unit: i % 3 === 0 ? 'W' : '°C',
    ts,
    value,
  });
  // Readings in order, late ones among them (hours maintain() rolled up already), the same (series, ts)
  // again with another value (the later wins), a reading without a channel beside its channel-0 twin (one
  // series), and readings the schema cannot hold.
  const batch: StoredReading[] = [];
  for (let i = 0; i < 500; i++) batch.push(reading(i, now + i * 1000, i));
  for (let i = 0; i < 100; i++) batch.push(reading(i, now - DAY + i * 60_000, i * 2));
  for (let i = 0; i < 200; i += 3) batch.push(reading(i, now + i * 1000, `again ${i}`));
  const { channel: _, ...noChannel } = reading(0, now + 999_000, 42);
  batch.push(noChannel as StoredReading, reading(0, now + 999_000, 43), reading(2, now + 1, Number.NaN));
  batch.push(reading(4, Number.NaN, 1), reading(6, now + 998_000, 44));
  const { channel: __, ...newer } = reading(6, now + 998_000, 45);
  batch.push(newer as StoredReading);

  const answers = async (store: SqliteStore) => ({
    raw: await Promise.all(
      ['power', 'temperature'].map((quantity) =>
        store.query({ quantity, from: now - 2 * DAY, to: now + DAY, aggregate: 'last', bucketMs: 1000 }),
      ),
    ),
    latest: await store.latest(),
  });
  const stores: SqliteStore[] = [];
  for (const writeThread of [false, false, true]) {
    const store = new SqliteStore({ file: file(), writeThread });
    t.teardown(() => store.close());
    await store.write([reading(1, now - 2 * DAY, 0)]);
    await store.maintain(now);
    stores.push(store);
  }
  const [single, ...batched] = stores as [SqliteStore, SqliteStore, SqliteStore];
  for (const r of batch) await single.write([r]);
  for (const store of batched) await store.write(batch);
  const expected = await answers(single);
  t.equal(
    expected.latest.find((r) => r.device === 'd0' && r.channel === '0' && r.quantity === 'power')?.value,
    43,
  );
  t.equal(
    expected.latest.find((r) => r.device === 'd6' && r.channel === '0' && r.quantity === 'power')?.value,
    45,
  );
  for (const [i, store] of batched.entries()) {
    t.same(await answers(store), expected, `one batch, ${i === 0 ? 'this thread' : 'the write thread'}`);
    // The late readings marked their hours dirty: maintenance re-rolls them as after one-by-one writes.
    await store.maintain(now + HOUR);
  }
  await single.maintain(now + HOUR);
  const hourly = (store: SqliteStore) =>
    store.query({ quantity: 'power', from: now - 2 * DAY, to: now, aggregate: 'mean', bucketMs: HOUR });
  for (const store of batched) t.same(await hourly(store), await hourly(single), 'the rollups alike');
});

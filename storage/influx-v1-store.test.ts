import path from 'node:path';
import t from 'tap';
import { requireComponent } from '../test-support/component.ts';
import { INFLUXD_INSTALL, influxdAvailable, startInfluxd } from '../test-support/influxd.ts';
import { runStoreContract } from './contract.ts';
import { InfluxV1Store } from './influx-v1-store.ts';
import { SqliteStore } from './sqlite-store.ts';
import type { Series, StoredReading } from './store.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

if (requireComponent(t, influxdAvailable(), 'InfluxDB 1.x (influxd)', INFLUXD_INSTALL)) {
  const influxd = await startInfluxd();
  t.teardown(() => influxd.dispose());
  let n = 0;
  await runStoreContract(
    t,
    'influxdb-v1',
    async () => new InfluxV1Store({ url: influxd.url, database: `contract_${++n}` }),
    await influxd.clock(),
  );

  t.test('sets up retention policies raw (default) and hourly; drops the old continuous query', async (t) => {
    const q = async (sql: string) => {
      const res = await fetch(`${influxd.url}/query?db=retention&epoch=ms&q=${encodeURIComponent(sql)}`, {
        method: 'POST',
      });
      return (await res.json()) as {
        results: { series?: { name: string; columns: string[]; values: unknown[][] }[] }[];
      };
    };
    // What earlier versions set up: a continuous query rolling up on the database's clock.
    await q('CREATE DATABASE "retention"');
    await q('CREATE RETENTION POLICY "rollup" ON "retention" DURATION INF REPLICATION 1');
    await q(
      'CREATE CONTINUOUS QUERY "wesprint_hourly" ON "retention" BEGIN SELECT mean("value") AS "mean" INTO "retention"."rollup".:MEASUREMENT FROM "retention"."autogen"./.*/ GROUP BY time(1h), * END',
    );
    const before = await q('SHOW CONTINUOUS QUERIES');
    t.ok(
      before.results[0]?.series?.some((s) => s.name === 'retention' && (s.values ?? []).length > 0),
      'the old continuous query is there',
    );
    const store = new InfluxV1Store({ url: influxd.url, database: 'retention', rawRetentionDays: 7 });
    t.teardown(() => store.close());
    await store.write([
      {
        site: 's',
        space: 'hall',
        device: 'm1',
        channel: '0',
        quantity: 'energy',
        unit: 'kWh',
        ts: await influxd.clock(),
        value: 5,
      },
    ]);
    const rps = await q('SHOW RETENTION POLICIES ON "retention"');
    const rows = rps.results[0]?.series?.[0]?.values ?? [];
    t.same(
      rows.filter((r) => r[0] === 'raw').map((r) => [r[1], r[4]]),
      [['168h0m0s', true]],
      'raw: 7 days, default',
    );
    t.same(
      rows.filter((r) => r[0] === 'hourly').map((r) => [r[1], r[4]]),
      [['0s', false]],
      'hourly: kept for ever',
    );
    const cqs = await q('SHOW CONTINUOUS QUERIES');
    t.notOk(
      cqs.results[0]?.series?.some((s) => s.name === 'retention' && (s.values ?? []).length > 0),
      'no continuous query left',
    );
  });

  t.test(
    'rollups past raw retention answer as the embedded store does, by the application’s clock',
    async (t) => {
      // influxd runs on the real clock, whatever the application's is: the history lies after influxd's now
      // (so influxd keeps all of it), and the application's clock is days later than that.
      const D0 = Math.ceil(Math.max(Date.now(), await influxd.clock()) / DAY) * DAY + DAY;
      let now = D0 + 4 * DAY + 10 * 60_000;
      const sqlite = new SqliteStore({ file: path.join(t.testdir({}), 'readings.db'), rawRetentionDays: 1 });
      const influx = new InfluxV1Store({
        url: influxd.url,
        database: 'against_sqlite',
        rawRetentionDays: 1,
        now: () => now,
      });
      t.teardown(() => Promise.all([sqlite.close(), influx.close()]).then(() => undefined));
      const reading = (
        device: string,
        space: string,
        quantity: string,
        ts: number,
        value: number | string,
        channel = '0',
      ): StoredReading => ({
        site: 'kaufhaus',
        space,
        device,
        channel,
        quantity: quantity as StoredReading['quantity'],
        unit: quantity === 'energy' ? 'kWh' : 'bool',
        ts,
        value,
      });
      const readings: StoredReading[] = [];
      let counter = 1000;
      for (let ts = D0; ts < D0 + 4 * DAY; ts += 20 * 60_000) {
        const minute = ts / 60_000;
        readings.push(reading('desk-b', 'og1', 'occupancy', ts, minute % 7 < 3 ? 1 : 0));
        // Silent on day 1: its hours have no rollups at all.
        if (ts < D0 + DAY || ts >= D0 + 2 * DAY)
          readings.push(reading('desk-a', 'eg', 'occupancy', ts, (minute % 11) / 10));
        // Words only: counted, never a number.
        if (ts % HOUR === 0) readings.push(reading('Desk-C', 'eg', 'occupancy', ts, 'unknown'));
        // A counter with a small dip (samples out of order: nothing) and a restart (everything after it).
        counter =
          ts === D0 + 10 * HOUR ? 0.5 : ts === D0 + 2 * DAY + 3 * HOUR ? counter - 0.2 : counter + 0.25;
        // It moves to another space on day 3.
        readings.push(reading('meter-1', ts < D0 + 3 * DAY ? 'technik' : 'keller', 'energy', ts, counter));
        // Its second phase at the same instants: a series of its own (tag `channel`), counting double.
        readings.push(reading('meter-1', 'technik', 'energy', ts, 2 * counter, '1'));
      }
      await sqlite.write(readings);
      await influx.write(readings);
      const sqliteReport = await sqlite.maintain(now);
      const influxReport = await influx.maintain(now);
      t.equal(sqliteReport.rawKeptFrom, D0 + 3 * DAY);
      t.equal(
        influxReport.rawKeptFrom,
        D0 + 3 * DAY + HOUR,
        'three days and the hour past retention from rollups',
      );
      t.equal(influxReport.rolledUpUntil, D0 + 4 * DAY);

      const nearly = (series: Series[]) =>
        series.map((s) => ({
          ...s,
          points: s.points.map((p) => ({ ts: p.ts, value: p.value.toPrecision(12) })),
        }));
      const compare = async (label: string) => {
        let compared = 0;
        for (const quantity of ['occupancy', 'energy'])
          for (const aggregate of ['mean', 'min', 'max', 'last', 'count', 'consumption'] as const)
            for (const range of [
              { from: D0, to: D0 + 4 * DAY, bucketMs: HOUR },
              { from: D0, to: D0 + 4 * DAY, bucketMs: DAY },
              { from: D0 + 5 * HOUR, to: D0 + 3 * DAY + 7 * HOUR, bucketMs: 6 * HOUR },
              { from: D0, to: D0 + 4 * DAY },
              { from: D0 + 2 * HOUR, to: D0 + 2 * DAY },
              { from: D0 + 3 * DAY - HOUR, to: D0 + 3 * DAY + HOUR },
            ])
              for (const filter of [
                {},
                { space: 'eg' },
                { device: 'desk-a' },
                { device: 'meter-1' },
                { device: 'meter-1', channel: '1' },
                { channel: '0' },
              ]) {
                const q = { quantity, aggregate, ...range, ...filter };
                const expected = nearly(await sqlite.query(q));
                t.same(nearly(await influx.query(q)), expected, `${label}: ${JSON.stringify(q)}`);
                if (expected.length > 0) compared++;
              }
        t.ok(compared > 200, `${label}: ${compared} non-empty answers compared`);
      };
      await compare('after maintenance');

      // A late reading (the spool replaying an outage) into an hour rolled up but still raw, then a day later.
      const late = reading('desk-b', 'og1', 'occupancy', D0 + 3 * DAY + 2 * HOUR + 5 * 60_000, 7);
      await sqlite.write([late]);
      await influx.write([late]);
      now += DAY;
      await sqlite.maintain(now);
      await influx.maintain(now);
      const [hour] = await influx.query({
        quantity: 'occupancy',
        device: 'desk-b',
        from: D0 + 3 * DAY + 2 * HOUR,
        to: D0 + 3 * DAY + 3 * HOUR,
        aggregate: 'max',
      });
      t.same(hour?.points, [{ ts: D0 + 3 * DAY + 2 * HOUR, value: 7 }], 'the late reading is in its rollup');
      await compare('a day later');
    },
  );

  t.test(
    'late readings past raw retention go into their hours’ rollups, never back to the spool',
    async (t) => {
      const clock = await influxd.clock();
      const H0 = Math.floor(clock / HOUR) * HOUR - 3 * DAY;
      const store = new InfluxV1Store({
        url: influxd.url,
        database: 'late',
        rawRetentionDays: 1,
        now: () => clock,
      });
      t.teardown(() => store.close());
      const energy = (ts: number, value: number): StoredReading => ({
        site: 'kaufhaus',
        space: 'technik',
        device: 'meter-1',
        channel: '0',
        quantity: 'energy',
        unit: 'kWh',
        ts,
        value,
      });
      const MIN = 60_000;
      // Two hours of history past retention, rolled up from the readings themselves; then maintained to now.
      await store.writeHistory(
        [energy(H0 + 10 * MIN, 100), energy(H0 + 40 * MIN, 101), energy(H0 + 70 * MIN, 102)],
        H0,
        H0 + 2 * HOUR,
        clock,
      );
      await store.maintain(clock);
      // The spool replays an outage: one reading into a rolled-up hour, one into an hour without a rollup,
      // one fresh. The first two InfluxDB would refuse as past its retention.
      await store.write([
        energy(H0 + 20 * MIN, 100.5),
        energy(H0 + 5 * HOUR + 5 * MIN, 103),
        energy(clock - MIN, 104),
      ]);
      const hours = { quantity: 'energy', from: H0, to: H0 + 6 * HOUR, bucketMs: HOUR } as const;
      const values = async (aggregate: 'count' | 'min' | 'consumption') =>
        (await store.query({ ...hours, aggregate }))[0]?.points.map((p) => [(p.ts - H0) / HOUR, p.value]);
      t.same(await values('count'), [
        [0, 3],
        [1, 1],
        [5, 1],
      ]);
      t.same(await values('min'), [
        [0, 100],
        [1, 102],
        [5, 103],
      ]);
      t.same(
        await values('consumption'),
        [
          [0, 1],
          [1, 1],
          [5, 1],
        ],
        'a rolled-up hour keeps its consumption; a new one counts from the last value before it',
      );
      t.same(
        (await store.latest({ quantity: 'energy' })).map((r) => r.value),
        [104],
        'the fresh reading is in raw',
      );

      // An application clock behind influxd's: InfluxDB itself refuses the old point; it is folded all the same.
      const behind = new InfluxV1Store({
        url: influxd.url,
        database: 'late',
        rawRetentionDays: 1,
        now: () => clock - 2 * DAY,
      });
      t.teardown(() => behind.close());
      await behind.write([energy(H0 + 6 * HOUR + MIN, 105), energy(clock - 30_000, 106)]);
      t.same(await values('count'), [
        [0, 3],
        [1, 1],
        [5, 1],
      ]);
      const [sixth] = await store.query({
        ...hours,
        to: H0 + 7 * HOUR,
        from: H0 + 6 * HOUR,
        aggregate: 'max',
      });
      t.same(sixth?.points, [{ ts: H0 + 6 * HOUR, value: 105 }]);
      t.same(
        (await store.latest({ quantity: 'energy' })).map((r) => r.value),
        [106],
      );
    },
  );

  t.test('an unreachable server: write rejects, ping is false', async (t) => {
    const store = new InfluxV1Store({
      url: 'http://127.0.0.1:1',
      database: 'nowhere',
      requestTimeoutMs: 2000,
    });
    t.equal(await store.ping(), false);
    await t.rejects(
      store.write([
        {
          site: 's',
          space: 'x',
          device: 'd',
          channel: '0',
          quantity: 'co2',
          unit: 'ppm',
          ts: Date.now(),
          value: 1,
        },
      ]),
    );
  });
}

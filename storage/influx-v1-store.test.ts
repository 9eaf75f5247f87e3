import t from 'tap';
import { requireComponent } from '../test-support/component.ts';
import { INFLUXD_INSTALL, influxdAvailable, startInfluxd } from '../test-support/influxd.ts';
import { runStoreContract } from './contract.ts';
import { InfluxV1Store } from './influx-v1-store.ts';

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

  t.test('sets up retention policies and the hourly continuous query, whose SELECT runs', async (t) => {
    const store = new InfluxV1Store({ url: influxd.url, database: 'retention', rawRetentionDays: 7 });
    t.teardown(() => store.close());
    const hour = 3_600_000;
    const h0 = Math.floor((await influxd.clock()) / hour) * hour - 3 * hour;
    await store.write([
      { site: 's', space: 'hall', device: 'm1', quantity: 'energy', unit: 'kWh', ts: h0 + 60_000, value: 5 },
      { site: 's', space: 'hall', device: 'm1', quantity: 'energy', unit: 'kWh', ts: h0 + 120_000, value: 7 },
      {
        site: 's',
        space: 'hall',
        device: 'l1',
        quantity: 'lock',
        unit: 'state',
        ts: h0 + 60_000,
        value: 'locked',
      },
    ]);
    const q = async (sql: string) => {
      const res = await fetch(`${influxd.url}/query?db=retention&epoch=ms&q=${encodeURIComponent(sql)}`, {
        method: 'POST',
      });
      return (await res.json()) as {
        results: { series?: { name: string; columns: string[]; values: unknown[][] }[] }[];
      };
    };
    const rps = await q('SHOW RETENTION POLICIES ON "retention"');
    const rows = rps.results[0]?.series?.[0]?.values ?? [];
    t.same(
      rows.filter((r) => r[0] === 'raw').map((r) => [r[1], r[4]]),
      [['168h0m0s', true]],
      'raw: 7 days, default',
    );
    t.ok(rows.some((r) => r[0] === 'rollup'));
    const cqs = await q('SHOW CONTINUOUS QUERIES');
    t.ok(
      cqs.results[0]?.series?.some(
        (s) => s.name === 'retention' && s.values.some((v) => v[0] === 'wesprint_hourly'),
      ),
    );
    // What the CQ does each hour, run by hand over the test's hour.
    await q(
      `${store.rollupSelect()}`.replace(
        'GROUP BY',
        `WHERE time >= ${h0}ms AND time < ${h0 + hour}ms GROUP BY`,
      ),
    );
    const rolled = await q('SELECT "last", "max", "count" FROM "retention"."rollup"."energy"');
    t.same(rolled.results[0]?.series?.[0]?.values, [[h0, 7, 7, 2]]);
  });

  t.test('an unreachable server: write rejects, ping is false', async (t) => {
    const store = new InfluxV1Store({
      url: 'http://127.0.0.1:1',
      database: 'nowhere',
      requestTimeoutMs: 2000,
    });
    t.equal(await store.ping(), false);
    await t.rejects(
      store.write([
        { site: 's', space: 'x', device: 'd', quantity: 'co2', unit: 'ppm', ts: Date.now(), value: 1 },
      ]),
    );
  });
}

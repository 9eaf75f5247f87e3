import type { Test } from 'tap';
import type { Quantity, Unit } from '../building/quantities.ts';
import type { StoredReading, TimeSeriesStore } from './store.ts';

/**
 * The one contract every TimeSeriesStore backend passes. `makeStore` gives a fresh, empty store for
 * each subtest (the suite closes it). Timestamps are a few hours before `now` so that a backend with a
 * raw retention policy (InfluxDB) keeps them: for InfluxDB that is influxd's own clock, which faketime
 * does not move.
 */
export type MakeStore = () => Promise<TimeSeriesStore>;

const MIN = 60_000;
const HOUR = 60 * MIN;
const SITE = 'kaufhaus';

/** One reading of channel `channel` (and, optionally, another site). */
const onChannel = (r: StoredReading, channel: string, site = r.site): StoredReading => ({
  ...r,
  channel,
  site,
});

/** The readings the contract writes, from the whole hour six hours before `now`. */
function fixtures(now: number) {
  const T0 = Math.floor((now - 6 * HOUR) / HOUR) * HOUR;
  function reading(
    device: string,
    space: string,
    quantity: Quantity,
    unit: Unit,
    minutes: number,
    value: number | string,
  ): StoredReading {
    return { site: SITE, space, device, channel: '0', quantity, unit, ts: T0 + minutes * MIN, value };
  }

  const co2 = (device: string, space: string, minutes: number, ppm: number) =>
    reading(device, space, 'co2', 'ppm', minutes, ppm);

  /** co2-1 in the hall, co2-2 in the café; bucket sums are worked out by hand in the tests. */
  const CO2 = [
    co2('co2-1', 'hall', 1, 400),
    co2('co2-1', 'hall', 5, 500),
    co2('co2-1', 'hall', 9, 600),
    co2('co2-1', 'hall', 12, 800),
    co2('co2-1', 'hall', 31, 1000),
    co2('co2-2', 'cafe', 2, 420),
    co2('co2-2', 'cafe', 25, 440),
  ];

  /** An energy meter that reboots at minute 14; minute -5 is the baseline before the queried range. */
  const ENERGY = [
    reading('meter-1', 'hall', 'energy', 'kWh', -5, 100),
    reading('meter-1', 'hall', 'energy', 'kWh', 3, 101),
    reading('meter-1', 'hall', 'energy', 'kWh', 8, 103),
    reading('meter-1', 'hall', 'energy', 'kWh', 14, 0.5),
    reading('meter-1', 'hall', 'energy', 'kWh', 18, 1.5),
    reading('meter-1', 'hall', 'energy', 'kWh', 20, 2),
  ];

  const LOCK = [
    reading('lock-1', 'protel-3', 'lock', 'state', 1, 'locked'),
    reading('lock-1', 'protel-3', 'lock', 'state', 4, 'unlocked'),
    reading('lock-1', 'protel-3', 'lock', 'state', 7, 'locked'),
  ];

  const at = (minutes: number) => T0 + minutes * MIN;

  return { co2, CO2, ENERGY, LOCK, at };
}

export async function runStoreContract(
  t: Test,
  name: string,
  makeStore: MakeStore,
  now: number = Date.now(),
): Promise<void> {
  const { co2, CO2, ENERGY, LOCK, at } = fixtures(now);
  const fresh = async (t: Test): Promise<TimeSeriesStore> => {
    const store = await makeStore();
    t.teardown(() => store.close());
    return store;
  };

  await t.test(`${name}: TimeSeriesStore contract`, async (t) => {
    t.test('ping answers and close is clean', async (t) => {
      const store = await makeStore();
      t.equal(typeof store.kind, 'string');
      t.equal(await store.ping(), true);
      await store.close();
    });

    t.test('mean/min/max/last/count per epoch-aligned bucket; empty buckets absent', async (t) => {
      const store = await fresh(t);
      await store.write(CO2);
      const q = { quantity: 'co2', from: at(0), to: at(40), bucketMs: 10 * MIN } as const;
      t.same(await store.query({ ...q, aggregate: 'mean' }), [
        {
          site: SITE,
          device: 'co2-1',
          channel: '0',
          space: 'hall',
          quantity: 'co2',
          unit: 'ppm',
          points: [
            { ts: at(0), value: 500 },
            { ts: at(10), value: 800 },
            { ts: at(30), value: 1000 },
          ],
        },
        {
          site: SITE,
          device: 'co2-2',
          channel: '0',
          space: 'cafe',
          quantity: 'co2',
          unit: 'ppm',
          points: [
            { ts: at(0), value: 420 },
            { ts: at(20), value: 440 },
          ],
        },
      ]);
      const values = async (aggregate: 'mean' | 'min' | 'max' | 'last' | 'count', extra: object = {}) =>
        (await store.query({ ...q, ...extra, aggregate })).map((s) => [
          s.device,
          s.points.map((p) => p.value),
        ]);
      t.same(await values('min'), [
        ['co2-1', [400, 800, 1000]],
        ['co2-2', [420, 440]],
      ]);
      t.same(await values('max'), [
        ['co2-1', [600, 800, 1000]],
        ['co2-2', [420, 440]],
      ]);
      t.same(await values('last'), [
        ['co2-1', [600, 800, 1000]],
        ['co2-2', [420, 440]],
      ]);
      t.same(await values('count'), [
        ['co2-1', [3, 1, 1]],
        ['co2-2', [1, 1]],
      ]);
      t.same(await values('mean', { from: at(20), to: at(31) }), [['co2-2', [440]]], 'to is exclusive');
      t.same(await values('count', { from: at(5), to: at(10) }), [['co2-1', [2]]], 'from is inclusive');
    });

    t.test('without bucketMs one bucket from..to, stamped with from', async (t) => {
      const store = await fresh(t);
      await store.write(CO2);
      const q = { quantity: 'co2', from: at(5), to: at(30) } as const;
      const one = async (aggregate: 'mean' | 'min' | 'max' | 'last' | 'count') =>
        (await store.query({ ...q, aggregate })).map((s) => [s.device, s.points]);
      t.same(await one('max'), [
        ['co2-1', [{ ts: at(5), value: 800 }]],
        ['co2-2', [{ ts: at(5), value: 440 }]],
      ]);
      t.same(await one('min'), [
        ['co2-1', [{ ts: at(5), value: 500 }]],
        ['co2-2', [{ ts: at(5), value: 440 }]],
      ]);
      t.same(await one('count'), [
        ['co2-1', [{ ts: at(5), value: 3 }]],
        ['co2-2', [{ ts: at(5), value: 1 }]],
      ]);
      const mean = await store.query({ ...q, aggregate: 'mean' });
      t.equal(mean[0]?.points.length, 1);
      t.ok(Math.abs((mean[0]?.points[0]?.value ?? 0) - 1900 / 3) < 1e-9, 'mean of 500, 600, 800');
    });

    t.test('device and space filters', async (t) => {
      const store = await fresh(t);
      await store.write(CO2);
      const base = {
        quantity: 'co2',
        from: at(0),
        to: at(40),
        bucketMs: 10 * MIN,
        aggregate: 'last',
      } as const;
      t.same(
        (await store.query({ ...base, device: 'co2-2' })).map((s) => s.device),
        ['co2-2'],
      );
      t.same(
        (await store.query({ ...base, space: 'hall' })).map((s) => s.device),
        ['co2-1'],
      );
      t.same(await store.query({ ...base, space: 'nowhere' }), []);
      t.same(await store.query({ ...base, quantity: 'humidity' }), []);
    });

    t.test('a device that moved to another space stays one series', async (t) => {
      const store = await fresh(t);
      await store.write([
        co2('co2-9', 'hall', 1, 400),
        co2('co2-9', 'cafe', 2, 600),
        co2('co2-9', 'cafe', 3, 800),
      ]);
      const series = await store.query({ quantity: 'co2', from: at(0), to: at(10), aggregate: 'mean' });
      t.same(
        series.map((s) => [s.device, s.space, s.points]),
        [['co2-9', 'cafe', [{ ts: at(0), value: 600 }]]],
      );
    });

    t.test('consumption across a meter reboot, with the sample before from as baseline', async (t) => {
      const store = await fresh(t);
      await store.write(ENERGY);
      const q = {
        quantity: 'energy',
        device: 'meter-1',
        from: at(0),
        to: at(30),
        aggregate: 'consumption',
      } as const;
      // minute -5 -> 3 -> 8: +1 +2 = 3; reboot at 14: +0.5, 18: +1 = 1.5; 20 (bucket edge): +0.5
      const [bucketed] = await store.query({ ...q, bucketMs: 10 * MIN });
      t.same(bucketed?.points, [
        { ts: at(0), value: 3 },
        { ts: at(10), value: 1.5 },
        { ts: at(20), value: 0.5 },
      ]);
      t.equal(bucketed?.unit, 'kWh');
      const [whole] = await store.query(q);
      t.same(whole?.points, [{ ts: at(0), value: 5 }]);
      const [late] = await store.query({ ...q, from: at(10), to: at(20) });
      t.same(late?.points, [{ ts: at(10), value: 1.5 }], 'baseline is the sample at minute 8');
    });

    t.test(
      'a series is (site, device, channel, quantity): channels and sites never overwrite each other',
      async (t) => {
        const store = await fresh(t);
        // A three-phase meter: the same device, quantity and instants on channels 0, 1, 2, and a second site
        // whose meter has the same id.
        const phases = [0, 1, 2].flatMap((c) =>
          ENERGY.map((r) => onChannel({ ...r, value: Number(r.value) * (c + 1) }, String(c))),
        );
        const elsewhere = ENERGY.map((r) => onChannel({ ...r, value: Number(r.value) * 10 }, '0', 'annex'));
        await store.write([...phases, ...elsewhere]);
        await store.write(phases);
        const q = { quantity: 'energy', from: at(0), to: at(30), aggregate: 'consumption' } as const;
        const all = await store.query(q);
        t.same(
          all.map((s) => [s.site, s.device, s.channel, s.space, s.unit, s.points]),
          [
            ['annex', 'meter-1', '0', 'hall', 'kWh', [{ ts: at(0), value: 50 }]],
            [SITE, 'meter-1', '0', 'hall', 'kWh', [{ ts: at(0), value: 5 }]],
            [SITE, 'meter-1', '1', 'hall', 'kWh', [{ ts: at(0), value: 10 }]],
            [SITE, 'meter-1', '2', 'hall', 'kWh', [{ ts: at(0), value: 15 }]],
          ],
          'sorted by device, channel, site; each with its own baseline and reboot',
        );
        t.same(
          (await store.query({ ...q, channel: '2' })).map((s) => [s.channel, s.points[0]?.value]),
          [['2', 15]],
          'channel filter',
        );
        t.same(
          (await store.query({ ...q, aggregate: 'count', device: 'meter-1', channel: '1' })).map(
            (s) => s.points[0]?.value,
          ),
          [5],
          'rewritten channel 1 holds its five readings once',
        );
        const newest = await store.latest({ device: 'meter-1' });
        t.same(
          newest.map((r) => [r.site, r.channel, r.value]),
          [
            ['annex', '0', 20],
            [SITE, '0', 2],
            [SITE, '1', 4],
            [SITE, '2', 6],
          ],
          'latest per series',
        );
        t.same(
          (await store.latest({ channel: '1' })).map((r) => [r.device, r.channel]),
          [['meter-1', '1']],
        );
      },
    );

    t.test('writes are idempotent on (site, device, channel, quantity, ts)', async (t) => {
      const store = await fresh(t);
      await store.write(CO2);
      await store.write(CO2);
      await store.write([...CO2.slice(0, 3), co2('co2-1', 'hall', 33, 900)]);
      const counts = await store.query({ quantity: 'co2', from: at(0), to: at(40), aggregate: 'count' });
      t.same(
        counts.map((s) => [s.device, s.points[0]?.value]),
        [
          ['co2-1', 6],
          ['co2-2', 2],
        ],
      );
    });

    t.test(
      'string values (lock states): stored, counted, latest; numeric aggregates skip them',
      async (t) => {
        const store = await fresh(t);
        await store.write(LOCK);
        const q = { quantity: 'lock', from: at(0), to: at(10) } as const;
        t.same(
          (await store.query({ ...q, aggregate: 'count' })).map((s) => s.points),
          [[{ ts: at(0), value: 3 }]],
        );
        t.same(await store.query({ ...q, aggregate: 'mean' }), []);
        t.same(await store.latest({ device: 'lock-1' }), [LOCK[2]]);
      },
    );

    t.test('latest: newest per (device, quantity), filtered by device, space, quantity', async (t) => {
      const store = await fresh(t);
      await store.write([...CO2, ...ENERGY, ...LOCK]);
      const key = (r: StoredReading) => `${r.device}/${r.quantity}`;
      const all = await store.latest();
      t.same(all.map(key).sort(), ['co2-1/co2', 'co2-2/co2', 'lock-1/lock', 'meter-1/energy']);
      t.same(
        all.find((r) => r.device === 'co2-1'),
        CO2[4],
      );
      t.same((await store.latest({ space: 'hall' })).map(key).sort(), ['co2-1/co2', 'meter-1/energy']);
      t.same((await store.latest({ quantity: 'energy' })).map(key), ['meter-1/energy']);
      t.same(await store.latest({ device: 'meter-1', quantity: 'energy' }), [ENERGY[5]]);
      t.same(await store.latest({ device: 'nobody' }), []);
    });

    t.test('hostile ids are data, never query syntax', async (t) => {
      const store = await fresh(t);
      const hostile = 'a"b\'c\\d';
      const space = "x' OR space =~ /.*/ OR '1'='1";
      const odd = 'co2 2,x=1';
      await store.write([
        co2(hostile, space, 1, 111),
        co2('a', 'hall', 1, 222),
        co2(odd, 'hall', 1, 333),
        co2('b\\', 'hall\\', 1, 444),
      ]);
      const q = { quantity: 'co2', from: at(0), to: at(10), aggregate: 'last' } as const;
      t.same(await store.query({ ...q, device: hostile }), [
        {
          site: SITE,
          device: hostile,
          channel: '0',
          space,
          quantity: 'co2',
          unit: 'ppm',
          points: [{ ts: at(0), value: 111 }],
        },
      ]);
      t.same(
        (await store.query({ ...q, space })).map((s) => s.device),
        [hostile],
      );
      t.same(
        (await store.query({ ...q, device: odd })).map((s) => s.points[0]?.value),
        [333],
      );
      t.same(
        (await store.query({ ...q, device: 'b\\', space: 'hall\\' })).map((s) => s.points[0]?.value),
        [444],
      );
      t.same(await store.query({ ...q, device: "' OR '1'='1" }), []);
      t.same(await store.latest({ device: hostile }), [co2(hostile, space, 1, 111)]);
      t.same(
        (await store.latest({ space: space })).map((r) => r.device),
        [hostile],
      );
    });

    t.test('a query with from >= to is refused', async (t) => {
      const store = await fresh(t);
      await t.rejects(store.query({ quantity: 'co2', from: at(5), to: at(5), aggregate: 'mean' }));
    });
  });
}

import t from 'tap';
import { bucketStart, consumptionByBucket, counterIncrease, counterStep } from './consumption.ts';

const H = 3_600_000;

t.test('a step is the difference, or the new value after a reset', async (t) => {
  t.equal(counterStep(10, 12.5), 2.5);
  t.equal(counterStep(10, 10), 0);
  t.equal(counterStep(1000, 3), 3, 'meter rebooted: 3 kWh consumed since it restarted at 0');
  t.equal(counterStep(1000, 999.5), 0, 'a dip of 0.05 % is samples out of order, not a restart');
  t.equal(counterStep(1000, 901), 0, 'still a dip just under 10 %');
  t.equal(counterStep(1000, 899), 899, 'more than 10 % down: a restart');
});

t.test('a dip counts nothing and is not counted again when the counter climbs back', async (t) => {
  // 10000.2 -> 10000.0 (dip, 0; baseline stays 10000.2) -> 10000.5 (+0.3) -> 10001 (+0.5) = 0.8
  const samples = [
    { ts: 0, value: 10000.2 },
    { ts: 1, value: 10000.0 },
    { ts: 2, value: 10000.5 },
    { ts: 3, value: 10001 },
  ];
  t.ok(Math.abs(counterIncrease(samples) - 0.8) < 1e-9, 'not 10000.8 (a restart) nor 1.0 (the dip twice)');
  const points = consumptionByBucket(samples, { from: 0, to: 4 });
  t.ok(Math.abs((points[0]?.value ?? 0) - 0.8) < 1e-9, 'the same by bucket');
});

t.test('increase over a series with a reboot in the middle', async (t) => {
  // 100 -> 104 (+4) -> 107 (+3) -> reboot -> 2 (+2) -> 5 (+3) = 12
  const samples = [
    { ts: 0, value: 100 },
    { ts: 1, value: 104 },
    { ts: 2, value: 107 },
    { ts: 3, value: 2 },
    { ts: 4, value: 5 },
  ];
  t.equal(counterIncrease(samples), 12);
  t.equal(counterIncrease([]), 0);
  t.equal(counterIncrease([{ ts: 0, value: 42 }]), 0, 'one sample is only a baseline');
});

t.test('buckets are epoch-aligned; single bucket starts at from', async (t) => {
  t.equal(bucketStart(5 * H + 17, { from: 0, to: 10 * H, bucketMs: H }), 5 * H);
  t.equal(bucketStart(5 * H + 17, { from: 123, to: 10 * H }), 123);
});

t.test('consumption crossing bucket edges is counted once, in the bucket of the later sample', async (t) => {
  const samples = [
    { ts: -10, value: 50 }, // baseline before `from`
    { ts: 0.5 * H, value: 51 }, // +1 in bucket 0
    { ts: 0.9 * H, value: 53 }, // +2 in bucket 0
    { ts: 1.2 * H, value: 56 }, // +3 in bucket 1 (crosses the edge at 1 H)
    { ts: 3.1 * H, value: 60 }, // +4 in bucket 3 (bucket 2 has no sample: absent)
    { ts: 4 * H, value: 99 }, // at `to`: ignored
  ];
  const points = consumptionByBucket(samples, { from: 0, to: 4 * H, bucketMs: H });
  t.same(points, [
    { ts: 0, value: 3 },
    { ts: H, value: 3 },
    { ts: 3 * H, value: 4 },
  ]);
  const total = consumptionByBucket(samples, { from: 0, to: 4 * H });
  t.same(total, [{ ts: 0, value: 10 }], 'the buckets add up to the whole range');
});

t.test('reboot in the middle of a bucket', async (t) => {
  const samples = [
    { ts: 0, value: 200 },
    { ts: 0.25 * H, value: 201 }, // +1
    { ts: 0.5 * H, value: 0.5 }, // reboot: +0.5
    { ts: 0.75 * H, value: 1.5 }, // +1
    { ts: 1.5 * H, value: 2 }, // +0.5 in bucket 1
  ];
  t.same(consumptionByBucket(samples, { from: 0, to: 2 * H, bucketMs: H }), [
    { ts: 0, value: 2.5 },
    { ts: H, value: 0.5 },
  ]);
});

t.test('reboot exactly at a bucket edge', async (t) => {
  const samples = [
    { ts: 0.5 * H, value: 300 },
    { ts: 0.9 * H, value: 302 }, // +2 in bucket 0
    { ts: H, value: 1 }, // reboot at the edge: +1 belongs to bucket 1
    { ts: 1.5 * H, value: 4 }, // +3
  ];
  t.same(consumptionByBucket(samples, { from: 0, to: 2 * H, bucketMs: H }), [
    { ts: 0, value: 2 },
    { ts: H, value: 4 },
  ]);
  t.same(
    consumptionByBucket(samples, { from: H, to: 2 * H, bucketMs: H }),
    [{ ts: H, value: 4 }],
    'querying from the edge uses the sample before it as baseline',
  );
});

t.test('without a baseline the first sample counts nothing, but its bucket is present', async (t) => {
  t.same(consumptionByBucket([{ ts: 10, value: 7 }], { from: 0, to: H, bucketMs: H }), [{ ts: 0, value: 0 }]);
  t.same(consumptionByBucket([], { from: 0, to: H }), []);
});

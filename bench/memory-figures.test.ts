import t from 'tap';
import { MEMORY_DOWN_S, memoryDownS, rssFigures, slope } from './faults.ts';
import { positiveNumber } from './run.ts';

/**
 * The memory bench's arithmetic (`npm run bench -- --only memory`), on known samples: start, peak and end of
 * a process's RSS while the store was away, and the least-squares slopes. No process is measured here.
 */
t.test('slope: least squares, per unit of x; undefined below two points or with one x', async (t) => {
  t.equal(
    slope([
      [0, 10],
      [1, 12],
      [2, 14],
    ]),
    2,
  );
  // Not on a line: mean x 1.5, mean y 5.5; Σ(x-x̄)(y-ȳ) = 13, Σ(x-x̄)² = 5.
  t.equal(
    Math.round(
      slope([
        [0, 2],
        [1, 3],
        [2, 8],
        [3, 9],
      ]) * 1e9,
    ) / 1e9,
    2.6,
  );
  t.equal(
    slope([
      [0, 5],
      [10, 5],
    ]),
    0,
  );
  t.ok(Number.isNaN(slope([[1, 1]])));
  t.ok(
    Number.isNaN(
      slope([
        [1, 1],
        [1, 2],
      ]),
    ),
  );
});

t.test('rssFigures: the outage from downFrom to downTo, slopes in kB per minute', async (t) => {
  // kB every 30 s: flat at 1000 before, then +60 kB a minute while away (s 60 to 240), back down after.
  const samples: [number, number][] = [
    [0, 990],
    [30, 1000],
    [60, 1000],
    [90, 1030],
    [120, 1060],
    [150, 1090],
    [180, 1120],
    [210, 1150],
    [240, 1180],
    [270, 1050],
  ];
  const f = rssFigures(samples, 60, 240, 60);
  t.equal(f.startKb, 1000, 'the last sample before the store went away');
  t.equal(f.peakKb, 1180);
  t.equal(f.endKb, 1180, 'the last sample before it came back');
  t.equal(Math.round(f.slopeKbPerMin * 1000) / 1000, 60);
  t.equal(Math.round(f.slopeAfterWarmupKbPerMin * 1000) / 1000, 60, 'from s 120 on');

  // A sawtooth that ends where it began is flat, though its peak is higher.
  const saw: [number, number][] = [0, 60, 120, 180, 240, 300, 360].map((s, i) => [s, i % 2 ? 1200 : 1000]);
  const flat = rssFigures(saw, 0, 360, 0);
  t.equal(flat.startKb, 1000, 'no sample before: the first one while away');
  t.equal(flat.peakKb, 1200);
  t.equal(Math.round(flat.slopeKbPerMin), 0);
  t.ok(Number.isNaN(rssFigures([], 0, 10, 0).peakKb));
});

t.test(
  'the outage lasts 10 minutes unless told; --memory-minutes takes fractions for a smoke run',
  async (t) => {
    t.equal(MEMORY_DOWN_S, 600);
    t.equal(memoryDownS({}), 600);
    t.equal(memoryDownS({ memoryDownS: 30 }), 30);
    t.equal(positiveNumber('memory-minutes', '0.5'), 0.5);
    t.throws(() => positiveNumber('memory-minutes', '0'), /--memory-minutes must be a positive number/);
    t.throws(() => positiveNumber('memory-minutes', 'ten'), /--memory-minutes must be a positive number/);
  },
);

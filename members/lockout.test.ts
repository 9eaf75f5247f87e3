import t from 'tap';
import { DEFAULT_LOCKOUT, lockedUntil } from './lockout.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);

t.test('five failures within 15 minutes lock for 15 minutes from the fifth', async (t) => {
  const failures = [0, 2, 4, 6, 8].map((m) => T0 + m * MIN);
  t.equal(lockedUntil(failures.slice(0, 4), T0 + 8 * MIN), null, 'four are not enough');
  t.equal(lockedUntil(failures, T0 + 8 * MIN), T0 + 23 * MIN, 'locked until 15 min after the fifth');
  t.equal(lockedUntil(failures, T0 + 22 * MIN), T0 + 23 * MIN, 'still locked a minute before');
  t.equal(lockedUntil(failures, T0 + 23 * MIN), null, 'open again when the lock ends');
});

t.test('failures spread wider than the window never lock', async (t) => {
  const spread = [0, 4, 8, 12, 16, 20, 24].map((m) => T0 + m * MIN);
  t.equal(lockedUntil(spread, T0 + 24 * MIN), null, 'no five of them within 15 minutes');
  const edge = [0, 5, 10, 14, 15].map((m) => T0 + m * MIN);
  t.equal(lockedUntil(edge, T0 + 15 * MIN), T0 + 30 * MIN, 'exactly 15 minutes apart still counts');
});

t.test('order does not matter; failures in the future are ignored', async (t) => {
  const failures = [8, 0, 6, 2, 4].map((m) => T0 + m * MIN);
  t.equal(lockedUntil(failures, T0 + 9 * MIN), T0 + 23 * MIN);
  t.equal(lockedUntil(failures, T0 + 5 * MIN), null, 'only three had happened at minute 5');
});

t.test('a later burst extends the lock; the default rule is 5 / 15 min / 15 min', async (t) => {
  const failures = [0, 1, 2, 3, 4, 20, 21, 22, 23, 24].map((m) => T0 + m * MIN);
  t.equal(lockedUntil(failures, T0 + 25 * MIN), T0 + 39 * MIN);
  t.same(DEFAULT_LOCKOUT, { failures: 5, windowMs: 15 * MIN, lockMs: 15 * MIN });
  t.equal(
    lockedUntil(failures, T0, { failures: 0, windowMs: 1, lockMs: 1 }),
    null,
    'a rule of 0 never locks',
  );
});

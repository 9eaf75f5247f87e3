import t from 'tap';
import { calendarFieldsExist } from '../site/local-time.ts';
import { planSeriesQuery } from './series-routes.ts';
import { bucketCount, parseBucket, parseInstant } from './time-range.ts';

t.test('instants: ISO 8601 with zone, dates, epoch ms', async (t) => {
  t.same(parseInstant('1762041600000'), { ok: true, value: 1762041600000 });
  t.same(parseInstant('2026-11-02'), { ok: true, value: Date.UTC(2026, 10, 2) });
  t.same(parseInstant('2026-11-02T08:30Z'), { ok: true, value: Date.UTC(2026, 10, 2, 8, 30) });
  t.same(parseInstant('2026-11-02T09:30:00.250+01:00'), {
    ok: true,
    value: Date.UTC(2026, 10, 2, 8, 30, 0, 250),
  });
  t.same(parseInstant('2026-11-02T09:30:00+0100'), { ok: true, value: Date.UTC(2026, 10, 2, 8, 30) });
  for (const bad of [
    '',
    'now',
    '-5',
    '1e12',
    '2026-11-02T08:30',
    '2026-02-30x',
    'Tue Nov 03 2026',
    '9'.repeat(16),
  ])
    t.equal(parseInstant(bad).ok, false, JSON.stringify(bad));
  t.match(parseInstant('2026-11-02T08:30'), { ok: false, reason: /time zone/ });
});

t.test('impossible days and hours are refused, not shifted into the next month or day', async (t) => {
  for (const bad of [
    '2027-02-30T10:00:00Z',
    '2027-02-29',
    '2027-02-29T10:00Z',
    '2100-02-29',
    '2027-04-31T00:00:00+02:00',
    '2027-06-31',
    '2027-09-31',
    '2027-11-31',
    '2027-01-32',
    '2027-01-00',
    '2027-00-10',
    '2027-13-01',
    '2027-01-01T24:00:00Z',
  ]) {
    t.equal(calendarFieldsExist(bad), false, bad);
    t.match(parseInstant(bad), { ok: false, reason: /not a valid date/ }, bad);
  }
  for (const good of [
    '2028-02-29',
    '2000-02-29T12:00Z',
    '2027-01-31',
    '2027-04-30T23:59:59Z',
    '2027-12-31T00:00Z',
  ])
    t.equal(calendarFieldsExist(good), true, good);
  t.same(parseInstant('2028-02-29T10:00:00Z'), { ok: true, value: Date.UTC(2028, 1, 29, 10) });
});

t.test('buckets', async (t) => {
  t.same(parseBucket('30s'), { ok: true, value: 30_000 });
  t.same(parseBucket('5m'), { ok: true, value: 300_000 });
  t.same(parseBucket('1h'), { ok: true, value: 3_600_000 });
  t.same(parseBucket('1d'), { ok: true, value: 86_400_000 });
  t.same(parseBucket('2w'), { ok: true, value: 1_209_600_000 });
  for (const bad of ['0m', '1y', 'm', '1.5h', '-1h', '1H', '1234567h'])
    t.equal(parseBucket(bad).ok, false, bad);
  t.equal(bucketCount(0, 3_600_000, 3_600_000), 1);
  t.equal(bucketCount(1, 3_600_001, 3_600_000), 2, 'an unaligned range touches one more bucket');
});

t.test('series plan: defaults and refusals', async (t) => {
  const now = Date.UTC(2026, 10, 3, 12);
  t.same(planSeriesQuery({ quantity: 'energy', space: 'cafe' }, now), {
    quantity: 'energy',
    space: 'cafe',
    from: now - 24 * 3_600_000,
    to: now,
    aggregate: 'consumption',
  });
  t.match(planSeriesQuery({ quantity: 'co2', device: 'd', bucket: '1h' }, now), {
    aggregate: 'mean',
    bucketMs: 3_600_000,
  });
  t.match(planSeriesQuery({ quantity: 'co2', device: 'd', from: '2026-11-04', to: '2026-11-03' }, now), {
    status: 400,
    message: /from must be before to/,
  });
  t.match(planSeriesQuery({ quantity: 'co2', device: 'd', from: '0', bucket: '1s' }, now), {
    status: 400,
    message: /at most 10000/,
  });
  t.match(planSeriesQuery({ quantity: 'door', device: 'd', aggregate: 'last' }, now), { status: 400 });
  t.match(planSeriesQuery({ quantity: 'door', device: 'd', aggregate: 'count' }, now), {
    aggregate: 'count',
  });
});

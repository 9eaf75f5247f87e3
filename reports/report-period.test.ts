import t from 'tap';
import { type Period, parsePeriod, previousPeriod, yearBeforePeriod } from './report-period.ts';

const BERLIN = 'Europe/Berlin';
const H = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

function parsed(text: string, zone = BERLIN): Period {
  const result = parsePeriod(text, zone);
  if (!result.ok) throw new Error(result.reason);
  return result.period;
}

t.test('a month runs from local midnight to local midnight, DST days included', async (t) => {
  // October 2026 in Berlin: 1 Oct 00:00 CEST (UTC+2) = 30 Sep 22:00 UTC; 1 Nov 00:00 CET (UTC+1) =
  // 31 Oct 23:00 UTC. Clocks go back on Sunday 25 Oct, so the month is 31 × 24 + 1 = 745 hours.
  const october = parsed('2026-10');
  t.equal(october.kind, 'month');
  t.equal(october.label, '2026-10');
  t.equal(iso(october.from), '2026-09-30T22:00:00.000Z');
  t.equal(iso(october.to), '2026-10-31T23:00:00.000Z');
  t.equal(october.days, 31);
  t.equal((october.to - october.from) / H, 745);

  // March 2026: 1 Mar 00:00 CET = 28 Feb 23:00 UTC; 1 Apr 00:00 CEST = 31 Mar 22:00 UTC; clocks go
  // forward on Sunday 29 Mar: 31 × 24 − 1 = 743 hours.
  const march = parsed('2026-03');
  t.equal(iso(march.from), '2026-02-28T23:00:00.000Z');
  t.equal(iso(march.to), '2026-03-31T22:00:00.000Z');
  t.equal((march.to - march.from) / H, 743);

  // February of a leap year: 29 days.
  t.equal(parsed('2028-02').days, 29);
});

t.test('quarters and years', async (t) => {
  // Q4 2026: 1 Oct 00:00 CEST = 30 Sep 22:00 UTC … 1 Jan 2027 00:00 CET = 31 Dec 23:00 UTC; 31+30+31 = 92 days.
  const q4 = parsed('2026-Q4');
  t.equal(q4.kind, 'quarter');
  t.equal(q4.label, '2026-Q4');
  t.equal(iso(q4.from), '2026-09-30T22:00:00.000Z');
  t.equal(iso(q4.to), '2026-12-31T23:00:00.000Z');
  t.equal(q4.days, 92);
  t.equal(parsed('2026-q1').label, '2026-Q1', 'a lower-case q is understood');
  t.equal(parsed('2026-Q1').days, 90, '31 + 28 + 31');

  const year = parsed('2026');
  t.equal(year.kind, 'year');
  t.equal(iso(year.from), '2025-12-31T23:00:00.000Z');
  t.equal(iso(year.to), '2026-12-31T23:00:00.000Z');
  t.equal(year.days, 365);
  t.equal(parsed('2028').days, 366);
});

t.test('another zone: New York leaves daylight saving on 1 Nov 2026 at 02:00', async (t) => {
  // Midnight of 1 Nov is still EDT (UTC−4) = 04:00 UTC; midnight of 1 Dec is EST (UTC−5) = 05:00 UTC.
  const november = parsed('2026-11', 'America/New_York');
  t.equal(iso(november.from), '2026-11-01T04:00:00.000Z');
  t.equal(iso(november.to), '2026-12-01T05:00:00.000Z');
  t.equal((november.to - november.from) / H, 30 * 24 + 1);
});

t.test('previous period and the same period a year before', async (t) => {
  t.equal(previousPeriod(parsed('2026-01'), BERLIN).label, '2025-12');
  t.equal(previousPeriod(parsed('2026-10'), BERLIN).label, '2026-09');
  t.equal(previousPeriod(parsed('2026-Q1'), BERLIN).label, '2025-Q4');
  t.equal(previousPeriod(parsed('2026'), BERLIN).label, '2025');
  t.equal(yearBeforePeriod(parsed('2026-Q4'), BERLIN).label, '2025-Q4');
  t.equal(yearBeforePeriod(parsed('2028-02'), BERLIN).days, 28, 'February 2027 has 28 days');

  // The previous period ends exactly where the period starts: nothing between them, nothing twice.
  const october = parsed('2026-10');
  const september = previousPeriod(october, BERLIN);
  t.equal(september.to, october.from);
  t.equal(iso(september.from), '2026-08-31T22:00:00.000Z');
  const lastOctober = yearBeforePeriod(october, BERLIN);
  // October 2025: 1 Oct 00:00 CEST = 30 Sep 22:00 UTC; 1 Nov 00:00 CET = 31 Oct 23:00 UTC.
  t.equal(iso(lastOctober.from), '2025-09-30T22:00:00.000Z');
  t.equal(iso(lastOctober.to), '2025-10-31T23:00:00.000Z');
});

t.test('anything else is refused with what is accepted', async (t) => {
  for (const text of [
    '2026-13',
    '2026-00',
    '26-10',
    '2026-Q5',
    '2026-10-01',
    'october',
    '',
    '1999',
    '2026-1',
  ]) {
    const result = parsePeriod(text, BERLIN);
    t.equal(result.ok, false, `"${text}" is refused`);
    if (!result.ok) t.match(result.reason, /period/);
  }
  const wrong = parsePeriod('2026/10', BERLIN);
  t.match(!wrong.ok && wrong.reason, /2026-10.*2026-Q4.*2026/);
});

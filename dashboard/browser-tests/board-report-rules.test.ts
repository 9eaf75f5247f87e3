import t from 'tap';
import {
  figureChange,
  formatFigure,
  formatTableNumber,
  type UnitWords,
} from '../src/pages/board/report-numbers.ts';
import {
  changeKind,
  lastCompletePeriod,
  type Period,
  parsePeriod,
  periodLabel,
  periodName,
  recentPeriods,
  shiftPeriod,
} from '../src/pages/board/report-periods.ts';

// The board page's pure rules (period steps, number formats, better/worse), without a browser.

const units: UnitWords = {
  kwh: 'kWh',
  kwhPerM2a: 'kWh/m²·a',
  kg: 'kg',
  t: 't',
  kwhPerDeskHour: 'kWh/Platzstunde',
  hours: 'Std.',
  percentPoints: 'Pp.',
};
const NB = '\u00a0';

function period(label: string): Period {
  const parsed = parsePeriod(label);
  if (!parsed) throw new Error(`${label} should be a period`);
  return parsed;
}

t.test('period labels: read, written, stepped across year ends', async (t) => {
  t.same(parsePeriod('2026-10'), { kind: 'month', year: 2026, index: 10 });
  t.same(parsePeriod('2026-Q4'), { kind: 'quarter', year: 2026, index: 4 });
  t.same(parsePeriod('2026'), { kind: 'year', year: 2026, index: 1 });
  for (const bad of ['2026-13', '2026-00', '2026-Q5', '26-10', '2026-1', '', null, '2026-10x']) {
    t.equal(parsePeriod(bad), null, `${bad} is not a period`);
  }
  const step = (label: string, by: number) => periodLabel(shiftPeriod(period(label), by));
  t.equal(step('2026-01', -1), '2025-12');
  t.equal(step('2026-12', 1), '2027-01');
  t.equal(step('2026-10', -13), '2025-09');
  t.equal(step('2026-Q1', -1), '2025-Q4');
  t.equal(step('2026-Q4', 1), '2027-Q1');
  t.equal(step('2026', -1), '2025');
});

t.test('the default is the last month that has ended; switching kinds keeps the place', async (t) => {
  t.equal(periodLabel(lastCompletePeriod('month', { year: 2026, month: 11 })), '2026-10');
  t.equal(periodLabel(lastCompletePeriod('month', { year: 2027, month: 1 })), '2026-12');
  t.equal(periodLabel(lastCompletePeriod('quarter', { year: 2026, month: 11 })), '2026-Q3');
  t.equal(periodLabel(lastCompletePeriod('year', { year: 2026, month: 11 })), '2025');
  const latest = { kind: 'month', year: 2026, index: 11 } as const;
  const october = period('2026-10');
  t.equal(periodLabel(changeKind(october, 'quarter', latest)), '2026-Q4');
  t.equal(periodLabel(changeKind(october, 'year', latest)), '2026');
  // 2025 → December of it; 2026 → November, since December has not come yet.
  t.equal(periodLabel(changeKind(period('2025'), 'month', latest)), '2025-12');
  t.equal(periodLabel(changeKind(period('2026'), 'month', latest)), '2026-11');
  t.equal(periodLabel(changeKind(period('2025-Q2'), 'month', latest)), '2025-06');
  t.same(
    recentPeriods('quarter', latest, 3).map(periodLabel),
    ['2026-Q4', '2026-Q3', '2026-Q2'],
    'newest first, from the period running now',
  );
});

t.test('periods are named as a reader names them', async (t) => {
  const name = (label: string, locale: string, quarter: string) => periodName(period(label), locale, quarter);
  t.equal(name('2026-10', 'de-DE', '{quarter}. Quartal {year}'), 'Oktober 2026');
  t.equal(name('2026-10', 'en-GB', 'Q{quarter} {year}'), 'October 2026');
  t.equal(name('2026-Q4', 'de-DE', '{quarter}. Quartal {year}'), '4. Quartal 2026');
  t.equal(name('2026', 'en-GB', 'Q{quarter} {year}'), '2026');
});

t.test('figures in German and English, with their units', async (t) => {
  t.equal(formatFigure('energyKwh', 1234.5, 'de-DE', units), `1.234,5${NB}kWh`);
  t.equal(formatFigure('energyKwh', 1234.5, 'en-GB', { ...units, hours: 'h' }), `1,234.5${NB}kWh`);
  t.equal(formatFigure('energyKwhPerM2Annualised', 52.26, 'de-DE', units), `52,3${NB}kWh/m²·a`);
  // Below a tonne in kg, from a tonne in t.
  t.equal(formatFigure('co2LocationKg', 999.94, 'de-DE', units), `999,9${NB}kg`);
  t.equal(formatFigure('co2LocationKg', 13879.1, 'de-DE', units), `13,88${NB}t`);
  t.equal(formatFigure('co2MarketKg', 1000, 'en-GB', units), `1.00${NB}t`);
  t.equal(formatFigure('energyPerBookedDeskHourKwh', 4.125, 'de-DE', units), `4,13${NB}kWh/Platzstunde`);
  t.equal(formatFigure('bookedHours', 9280.25, 'de-DE', units), `9.280${NB}Std.`);
  t.equal(formatFigure('bookedShare', 0.4419, 'de-DE', units), `44,2${NB}%`);
  t.equal(formatFigure('goodAirShare', 0.4419, 'en-GB', units), '44.2%');
});

t.test('changes: relative for amounts, in points for shares, better or worse by the figure', async (t) => {
  // 38234.5 / 36010.2 = 1.06177 → +6.2 %, more energy is worse.
  t.same(figureChange('energyKwh', 38234.5, 36010.2, 'de-DE', units), {
    text: `+6,2${NB}%`,
    direction: 'up',
    verdict: 'worse',
  });
  // 38234.5 / 41000 = 0.93255 → −6.7 %, less energy is better.
  t.same(figureChange('energyKwh', 38234.5, 41000, 'en-GB', units), {
    text: '-6.7%',
    direction: 'down',
    verdict: 'better',
  });
  // 0.4419 − 0.394 = 0.0479 → +4.8 points, more booked is better.
  t.same(figureChange('bookedShare', 0.4419, 0.394, 'de-DE', units), {
    text: `+4,8${NB}Pp.`,
    direction: 'up',
    verdict: 'better',
  });
  // No-shows rising is worse.
  t.equal(figureChange('noShowRate', 0.1, 0.08, 'de-DE', units)?.verdict, 'worse');
  // Opening hours are neither good nor bad.
  t.equal(figureChange('availableHours', 21000, 20300, 'de-DE', units)?.verdict, 'neutral');
  // A change that rounds to 0.0 % is no change, and no colour.
  t.same(figureChange('energyKwh', 1000.2, 1000, 'de-DE', units), {
    text: `0,0${NB}%`,
    direction: 'same',
    verdict: 'neutral',
  });
  t.equal(figureChange('energyKwh', null, 1000, 'de-DE', units), null, 'no value, no change');
  t.equal(figureChange('energyKwh', 5, null, 'de-DE', units), null, 'no reference, no change');
  t.equal(figureChange('energyKwh', 5, 0, 'de-DE', units), null, 'no relative change from zero');
  t.equal(
    figureChange('bookedShare', 0.2, 0, 'de-DE', units)?.text,
    `+20,0${NB}Pp.`,
    'points from zero are fine',
  );
});

t.test('table numbers by unit', async (t) => {
  t.equal(formatTableNumber(12000.5, 'kWh', 'de-DE'), '12.000,5');
  t.equal(formatTableNumber(0.233, 'ratio', 'de-DE'), `23,3${NB}%`);
  t.equal(formatTableNumber(812.6, 'ppm', 'en-GB'), '813');
  t.equal(formatTableNumber(3, undefined, 'de-DE'), '3');
  t.equal(formatTableNumber(2.345, undefined, 'en-GB'), '2.35');
});

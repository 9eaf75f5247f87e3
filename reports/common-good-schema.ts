import Type, { type Static } from 'typebox';
import { ReportPeriod, Table } from './board-report-schema.ts';
import { COMMON_GOOD_FIGURE_KEYS } from './common-good.ts';

/**
 * What GET /api/board/common-good answers: the common-good report of a month, quarter or year for the
 * board and funders, each figure with the period before and the same period a year earlier. Counts only:
 * no member, organiser or guest appears in it.
 */

const Figure = Type.Union([Type.Number(), Type.Null()]);

export const CommonGoodFigure = Type.Object({
  key: Type.Enum([...COMMON_GOOD_FIGURE_KEYS]),
  /** `h`, `ratio` (0..1), `count`, `kWh`, `EUR`. */
  unit: Type.String(),
  value: Figure,
  previous: Figure,
  yearBefore: Figure,
});

export const CommonGoodSummaryTable = Table('summary', {
  figure: Type.Enum([...COMMON_GOOD_FIGURE_KEYS]),
  unit: Type.String(),
  value: Figure,
  previous: Figure,
  yearBefore: Figure,
});

/** The public event dates held in the period: what, when, where, how many (never who). */
export const EventsHeldTable = Table('events', {
  /** Local date and times in the site's zone. */
  date: Type.String(),
  start: Type.String(),
  end: Type.String(),
  title: Type.String(),
  space: Type.String(),
  signUps: Figure,
  attended: Figure,
  reached: Figure,
  /** Hours the occupancy sensor saw the room used during the date; null: no sensor. */
  usedHours: Figure,
});

/** The allocation of the main meters' energy by area × hours used, per space weighed. */
export const AllocationTable = Table('allocation', {
  space: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  areaM2: Type.Number(),
  usedHours: Type.Number(),
  /** The space's share of the energy (0..1). */
  share: Figure,
  energyKwh: Figure,
});

/** The paid spaces' booked hours and their value at the site file's prices. */
export const PaidHoursTable = Table('paid-hours', {
  kind: Type.String(),
  bookedHours: Figure,
  priceEur: Type.Number(),
  valueEur: Figure,
});

export const CommonGoodTable = Type.Union([
  CommonGoodSummaryTable,
  EventsHeldTable,
  AllocationTable,
  PaidHoursTable,
]);

export const COMMON_GOOD_TABLE_IDS = [
  'summary',
  'events',
  'allocation',
  'paid-hours',
] as const satisfies readonly Static<typeof CommonGoodTable>['id'][];

export const CommonGoodReport = Type.Object({
  site: Type.Object({ id: Type.String(), name: Type.String(), timezone: Type.String() }),
  period: ReportPeriod,
  previous: ReportPeriod,
  yearBefore: ReportPeriod,
  /** The spaces with public opening hours in the site file (the discourse space). */
  publicSpaces: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), areaM2: Type.Number() })),
  /** What the money figures stand on, from the site file; null or empty where it gives none. */
  basis: Type.Object({
    energyEurPerKwh: Figure,
    hourPricesEur: Type.Record(Type.String(), Type.Number()),
  }),
  figures: Type.Array(CommonGoodFigure),
  tables: Type.Array(CommonGoodTable),
  generatedAt: Type.Number(),
});

export type CommonGoodReportOut = Static<typeof CommonGoodReport>;
export type CommonGoodFigureOut = Static<typeof CommonGoodFigure>;
export type CommonGoodTableOut = Static<typeof CommonGoodTable>;
export type CommonGoodTableId = CommonGoodTableOut['id'];

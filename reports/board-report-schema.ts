import Type, { type Static, type TProperties } from 'typebox';

/**
 * What GET /api/board/report answers: the one contract between the report arithmetic (reports/), the
 * API and the board page. Every figure comes with the same figure for the previous period and for the
 * same period a year earlier (null where there is no data), so the page and the CSV never compute.
 */

export const ReportPeriodKind = Type.Union([
  Type.Literal('month'),
  Type.Literal('quarter'),
  Type.Literal('year'),
]);

export const ReportPeriod = Type.Object({
  kind: ReportPeriodKind,
  /** `2026-10`, `2026-Q4` or `2026`. */
  label: Type.String(),
  /** Start (inclusive) and end (exclusive), midnight in the site's time zone, as ISO 8601 UTC. */
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  days: Type.Number(),
  /**
   * Only while the period is still running: the report counts up to this instant (now), and
   * kWh/m²·a is annualised over the days elapsed. Absent for a period that is over.
   */
  until: Type.Optional(Type.String({ format: 'date-time' })),
  /**
   * Share (0..1, three decimals) of the period's whole hours (up to `until`) for which the main meters have
   * figures, averaged over the meters. Below 1 the period's totals cover less than the period: a history
   * that starts within it, a meter that was silent. The page says so rather than compare it as whole.
   */
  coverage: Type.Number({ minimum: 0, maximum: 1 }),
});

export const FIGURE_KEYS = [
  /** Electricity of the building's main meters, from their counters (correct across counter resets). */
  'energyKwh',
  /** energyKwh scaled to a year (× 365 / days) per m² of the floors' area. */
  'energyKwhPerM2Annualised',
  /** energyKwh × the Umweltbundesamt factor for Germany of the period's year (location-based). */
  'co2LocationKg',
  /** energyKwh × the supplier's factor from the site file (market-based); null without one. */
  'co2MarketKg',
  /** energyKwh / booked desk-hours. */
  'energyPerBookedDeskHourKwh',
  /** Hours booked on bookable spaces (bookings not cancelled, clipped to the period). */
  'bookedHours',
  /** Opening hours of the bookable spaces in the period. */
  'availableHours',
  /** bookedHours / availableHours. */
  'bookedShare',
  /**
   * Booked hours of bookings checked in by the sensors / all booked hours (really used vs booked), both
   * over the spaces that have an occupancy sensor (elsewhere nobody can be checked in).
   */
  'usedShareOfBooked',
  /**
   * Bookings released as no-shows / bookings that started in the period, over the spaces where a no-show
   * is released (an occupancy sensor, and a desk, meeting room or hall: Protel rooms and offices never are).
   */
  'noShowRate',
  /** Hours with presence in rooms with a CO2 sensor in which the hour's mean CO2 was < 1000 ppm / those hours. */
  'goodAirShare',
] as const;
export type FigureKey = (typeof FIGURE_KEYS)[number];

export const ReportFigure = Type.Object({
  // Type.Enum of the tuple: a Union over FIGURE_KEYS.map(…) typed `key` as never.
  key: Type.Enum([...FIGURE_KEYS]),
  /** `kWh`, `kWh/m²·a`, `kg`, `kWh/h`, `h`, `ratio` (0..1). */
  unit: Type.String(),
  value: Type.Union([Type.Number(), Type.Null()]),
  previous: Type.Union([Type.Number(), Type.Null()]),
  yearBefore: Type.Union([Type.Number(), Type.Null()]),
});

/** A number the arithmetic may not have (no data, or a share of nothing): null, never NaN. */
const Figure = Type.Union([Type.Number(), Type.Null()]);

/**
 * A table of the report; each is also a CSV (GET /api/board/report.csv?period=…&table=<id>). Its columns
 * are its rows' fields, in the order shown, each with the unit of its numbers (`h`, `ratio` 0..1, `kWh`,
 * `ppm`; none for ids, names and counts).
 */
export function Table<const Id extends string, Row extends TProperties>(id: Id, row: Row) {
  const keys = Object.keys(row) as (keyof Row & string)[];
  return Type.Object({
    id: Type.Literal(id),
    columns: Type.Array(Type.Object({ key: Type.Enum(keys), unit: Type.Optional(Type.String()) })),
    rows: Type.Array(Type.Object(row)),
  });
}

/** How a set of bookable spaces was used: the columns the two space-use tables share. */
const SpaceUseFields = {
  availableHours: Figure,
  bookedHours: Figure,
  /** bookedHours / availableHours. */
  bookedShare: Figure,
  usedHours: Figure,
  /** Of the booked hours on spaces with an occupancy sensor, the share of bookings checked in. */
  usedShareOfBooked: Figure,
  bookingsStarted: Type.Integer(),
  noShows: Type.Integer(),
  /** noShows / bookingsStarted. */
  noShowRate: Figure,
};

/** The figures of the three periods, one row per figure, with the figure's unit. */
export const SummaryTable = Table('summary', {
  figure: Type.Enum([...FIGURE_KEYS]),
  unit: Type.String(),
  value: Figure,
  previous: Figure,
  yearBefore: Figure,
});

/** Every meter of the building (main meters and the ones below them), its kWh and counter restarts. */
export const EnergyByMeterTable = Table('energy-by-meter', {
  meter: Type.String(),
  space: Type.String(),
  /** The site file's meter_role (`main`, `plug`…); null where it gives none. */
  role: Type.Union([Type.String(), Type.Null()]),
  energyKwh: Figure,
  counterResets: Type.Integer(),
});

/** The main meters' kWh per local day of the period (the days begun so far while it runs). */
export const EnergyByDayTable = Table('energy-by-day', {
  /** The local date in the site's time zone, `2026-10-25`. */
  date: Type.String(),
  energyKwh: Figure,
});

/** Space use per kind of bookable space (`desk`, `meeting_room`…). */
export const SpaceUseTable = Table('space-use', {
  kind: Type.String(),
  spaces: Type.Integer(),
  ...SpaceUseFields,
});

/** Space use per bookable space. */
export const SpaceUseBySpaceTable = Table('space-use-by-space', {
  space: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  ...SpaceUseFields,
});

/** Per room with a CO2 sensor: hours with presence, of them hours with good air, and their mean CO2. */
export const AirQualityTable = Table('air-quality', {
  space: Type.String(),
  name: Type.String(),
  occupiedHours: Type.Integer(),
  goodAirHours: Type.Integer(),
  goodAirShare: Figure,
  meanCo2Ppm: Figure,
});

/**
 * Saved by automations, per output switched off and per room set back (reports/automation-savings.ts):
 * estimates, not measurements; the report's `savedByAutomations` says how each is made.
 */
export const SavedByAutomationsTable = Table('saved-by-automations', {
  /** `switched_off` (electricity) or `set_back` (heat). */
  saving: Type.String(),
  device: Type.String(),
  channel: Type.String(),
  space: Type.String(),
  spans: Type.Integer(),
  hours: Figure,
  /** Switched off: the output's mean power in the hour before, weighted by the hours off. */
  powerBeforeW: Figure,
  /** Set back: Σ setpoint reduction × hours. */
  degreeHours: Figure,
  /** Set back: the room's heat-loss coefficient from the site file; null where it gives none. */
  heatLossWPerK: Figure,
  /** Electricity not used, or heat not delivered. */
  savedKwh: Figure,
  /** Electricity location-based (the period's factor), heat by the site's heating_co2_g_per_kwh. */
  co2Kg: Figure,
});

export const ReportTable = Type.Union([
  SummaryTable,
  EnergyByMeterTable,
  EnergyByDayTable,
  SpaceUseTable,
  SpaceUseBySpaceTable,
  AirQualityTable,
  SavedByAutomationsTable,
]);

/** The tables' ids, in the order the report lists them. */
export const TABLE_IDS = [
  'summary',
  'energy-by-meter',
  'energy-by-day',
  'space-use',
  'space-use-by-space',
  'air-quality',
  'saved-by-automations',
] as const satisfies readonly Static<typeof ReportTable>['id'][];

/**
 * What automations saved in the period: estimates, shown apart from the metered electricity, each with the
 * way it is made (`method`). Null when the API has no audit log to read the commands from.
 */
export const SavedByAutomations = Type.Object({
  /** Outputs an automation (an integration token) switched off. */
  switchedOff: Type.Object({
    kwh: Figure,
    co2LocationKg: Figure,
    co2MarketKg: Figure,
    hours: Type.Number(),
    outputs: Type.Integer(),
    spans: Type.Integer(),
    /** Spans without a power figure for the hour before: in the hours, not in the kWh. */
    spansWithoutPower: Type.Integer(),
    method: Type.String(),
  }),
  /** Rooms whose heating an automation set back. */
  setBack: Type.Object({
    /** Heat not delivered to the rooms (not metered: a thermostat measures no heat). */
    heatKwh: Figure,
    co2Kg: Figure,
    /** The site file's heating_co2_g_per_kwh; null without one (then co2Kg is null). */
    heatingGPerKwh: Figure,
    degreeHours: Type.Number(),
    rooms: Type.Integer(),
    spans: Type.Integer(),
    /** Spaces set back whose site file entry has no heat_loss_w_per_k: in the degree-hours, not in the kWh. */
    roomsWithoutHeatLoss: Type.Array(Type.String()),
    method: Type.String(),
  }),
});

export const BoardReport = Type.Object({
  site: Type.Object({
    id: Type.String(),
    name: Type.String(),
    areaM2: Type.Number(),
    timezone: Type.String(),
  }),
  period: ReportPeriod,
  previous: ReportPeriod,
  yearBefore: ReportPeriod,
  factors: Type.Object({
    /** Location-based g CO2e/kWh used for this period, the year it is for, and where it comes from. */
    locationGPerKwh: Type.Number(),
    locationYear: Type.Integer(),
    locationSource: Type.String(),
    marketGPerKwh: Type.Union([Type.Number(), Type.Null()]),
  }),
  figures: Type.Array(ReportFigure),
  savedByAutomations: Type.Union([SavedByAutomations, Type.Null()]),
  tables: Type.Array(ReportTable),
  /** When the report was computed (ms since epoch). */
  generatedAt: Type.Number(),
});

export type ReportPeriodOut = Static<typeof ReportPeriod>;
export type ReportFigureOut = Static<typeof ReportFigure>;
export type ReportTableOut = Static<typeof ReportTable>;
export type TableId = ReportTableOut['id'];
/** The table of that id, with its own rows' fields and types. */
export type ReportTableOf<Id extends TableId> = Extract<ReportTableOut, { id: Id }>;
export type ReportRowOf<Id extends TableId> = ReportTableOf<Id>['rows'][number];
/** A column of any table: the field names the page and the CSV may rely on. */
export type ReportColumnKey = ReportTableOut['columns'][number]['key'];
/** Any table as code that lays out every table alike reads it (the HTML table, the CSV): columns, then rows by column. */
export interface AnyReportTable {
  id: TableId;
  columns: readonly { key: ReportColumnKey; unit?: string }[];
  rows: readonly Readonly<Record<string, string | number | null>>[];
}
export type BoardReportOut = Static<typeof BoardReport>;
export type SavedByAutomationsOut = Static<typeof SavedByAutomations>;

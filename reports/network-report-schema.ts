import Type, { type Static } from 'typebox';
import { FIGURE_KEYS, ReportPeriod, ReportPeriodKind } from './board-report-schema.ts';

/**
 * What GET /api/network/report answers: the network's houses side by side and the network's total, for the
 * network's board. Each house's figures are its own board report's (same arithmetic, its own time zone,
 * emission factors and area); every figure carries the coverage of the meters it stands on.
 */

const Figure = Type.Union([Type.Number(), Type.Null()]);

export const NetworkFigure = Type.Object({
  key: Type.Enum([...FIGURE_KEYS]),
  /** `kWh`, `kWh/m²·a`, `kg`, `kWh/h`, `h`, `ratio` (0..1). */
  unit: Type.String(),
  value: Figure,
  /**
   * Share (0..1) of the meter-hours the figure stands on that have figures: the main meters for the energy
   * figures, the CO2 sensors for the good-air share; null for the figures of the booking records. The
   * network's is the houses' meter-hours added up, so a house with more meters weighs more.
   */
  coverage: Figure,
});

/** One row per house and figure, and the network's total (`scope` network, no site): for spreadsheets. */
export const NetworkFiguresTable = Type.Object({
  id: Type.Literal('network-figures'),
  columns: Type.Array(
    Type.Object({
      key: Type.Enum(['scope', 'site', 'name', 'figure', 'unit', 'value', 'coverage']),
      unit: Type.Optional(Type.String()),
    }),
  ),
  rows: Type.Array(
    Type.Object({
      scope: Type.Enum(['house', 'network']),
      site: Type.Union([Type.String(), Type.Null()]),
      name: Type.Union([Type.String(), Type.Null()]),
      figure: Type.Enum([...FIGURE_KEYS]),
      unit: Type.String(),
      value: Figure,
      coverage: Figure,
    }),
  ),
});

export const NETWORK_TABLE_IDS = ['network-figures'] as const;

export const NetworkHouse = Type.Object({
  site: Type.Object({
    id: Type.String(),
    name: Type.String(),
    areaM2: Type.Number(),
    timezone: Type.String(),
  }),
  /** The period in the house's own time zone (its own board report's). */
  period: ReportPeriod,
  factors: Type.Object({
    locationGPerKwh: Type.Number(),
    locationYear: Type.Integer(),
    locationSource: Type.String(),
    marketGPerKwh: Figure,
  }),
  /** False: the house's bookings are not in these records, so its booking figures are unknown (null). */
  bookingsKnown: Type.Boolean(),
  figures: Type.Array(NetworkFigure),
});

export const NetworkReport = Type.Object({
  period: Type.Object({ kind: ReportPeriodKind, label: Type.String() }),
  houses: Type.Array(NetworkHouse),
  total: Type.Object({
    areaM2: Type.Number(),
    figures: Type.Array(NetworkFigure),
  }),
  tables: Type.Array(NetworkFiguresTable),
  /** When the report was computed (ms since epoch). */
  generatedAt: Type.Number(),
});

export type NetworkFigureOut = Static<typeof NetworkFigure>;
export type NetworkHouseOut = Static<typeof NetworkHouse>;
export type NetworkReportOut = Static<typeof NetworkReport>;
export type NetworkFiguresTableOut = Static<typeof NetworkFiguresTable>;

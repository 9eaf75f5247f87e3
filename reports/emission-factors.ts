/**
 * Location-based emission factors of German grid electricity, g CO2e per kWh, per year: the
 * Umweltbundesamt's "Emissionsfaktor für den deutschen Strommix". Only the year the project was asked to
 * ship is built in; the operator adds the others (and newer publications) in the site file under
 * `site.grid_co2_g_per_kwh: { "2025": …}`, which wins over the built-in table.
 */
export const UBA_GRID_G_PER_KWH: Readonly<Record<string, number>> = { '2024': 363 };

export const UBA_SOURCE = 'Umweltbundesamt';
/** The site file's key, so a reader knows where to change it. */
export const SITE_FILE_SOURCE = 'grid_co2_g_per_kwh';

export interface LocationFactor {
  gPerKwh: number;
  /** The year whose factor is used: the period's year, else the latest earlier year in the table. */
  year: number;
  source: string;
}

/**
 * The factor for `year`: that year's own, else the latest earlier year's (factors are published a year or
 * two late, so the newest known one is the best estimate), else — for a year before every entry — the
 * earliest known year's. `factors.locationYear` tells the board which year it got.
 */
export function locationFactor(
  year: number,
  siteTable: Readonly<Record<string, number>> = {},
): LocationFactor {
  const table = new Map<number, { gPerKwh: number; source: string }>();
  for (const [y, g] of Object.entries(UBA_GRID_G_PER_KWH))
    table.set(Number(y), { gPerKwh: g, source: UBA_SOURCE });
  for (const [y, g] of Object.entries(siteTable))
    table.set(Number(y), { gPerKwh: g, source: SITE_FILE_SOURCE });
  const years = [...table.keys()].filter(Number.isInteger).sort((a, b) => a - b);
  const used = years.filter((y) => y <= year).at(-1) ?? (years[0] as number);
  const entry = table.get(used) as { gPerKwh: number; source: string };
  return { gPerKwh: entry.gPerKwh, year: used, source: entry.source };
}

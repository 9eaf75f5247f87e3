import type { BookingStore } from '../bookings/booking-store.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { SiteConfig } from '../site/site.ts';
import { siteReadings } from '../storage/site-view.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import { airRooms } from './air-quality.ts';
import { gatherPeriod, periodOut } from './board-report.ts';
import { locationFactor } from './emission-factors.ts';
import { byDevice, HOUR_MS } from './gathered-series.ts';
import { meterHours, wholeHours } from './meter-energy.ts';
import { type HouseMeasures, networkFigures } from './network-figures.ts';
import type { NetworkFiguresTableOut, NetworkReportOut } from './network-report-schema.ts';
import { type Period, parsePeriod } from './report-period.ts';

/**
 * The network report of a period: every house gathered exactly as its own board report gathers it (its
 * readings through storage/site-view.ts, its period in its own time zone, its bookings), then set side by
 * side and added up by network-figures.ts.
 */

export interface NetworkReportSources {
  /** The network's houses, in the order the report shows them. */
  sites: readonly SiteConfig[];
  /** The store that holds every house's readings; each house reads its own series only. */
  store: TimeSeriesStore;
  /** A house's bookings; a house whose bookings these records do not hold answers none (`NO_BOOKINGS`). */
  bookingsOf: (siteId: string) => Pick<BookingStore, 'spansWithin'>;
  profiles: ReadonlyMap<string, DeviceProfile>;
}

/** The bookings of a house whose bookings are kept elsewhere: none, and none ever (its use is unknown, not 0). */
export const NO_BOOKINGS: Pick<BookingStore, 'spansWithin'> = {
  spansWithin: async () => ({ spans: [], firstStart: null }),
};

/** The period `label` in each house's time zone, or why not (unparseable, or not begun by `now` somewhere). */
export function networkPeriods(
  label: string,
  sites: readonly SiteConfig[],
  now: number,
): { ok: true; periods: Period[] } | { ok: false; reason: string } {
  const periods: Period[] = [];
  for (const site of sites) {
    const parsed = parsePeriod(label, site.site.timezone);
    if (!parsed.ok) return parsed;
    if (parsed.period.from >= now)
      return {
        ok: false,
        reason: `period ${parsed.period.label} has not begun yet in ${site.site.name}; choose one up to the current one`,
      };
    periods.push(parsed.period);
  }
  return { ok: true, periods };
}

async function gatherHouse(
  sources: NetworkReportSources,
  site: SiteConfig,
  period: Period,
  now: number,
): Promise<{ house: HouseMeasures; gathered: Awaited<ReturnType<typeof gatherPeriod>> }> {
  const store = siteReadings(sources.store, site.site.id);
  const houseSources = {
    site,
    store,
    bookings: sources.bookingsOf(site.site.id),
    profiles: sources.profiles,
  };
  const range = { from: period.from, to: Math.min(period.to, now) };
  const rooms = airRooms(site, (profile) => sources.profiles.get(profile)?.quantities ?? []);
  const co2Devices = rooms.flatMap((r) => r.co2Devices);
  const [gathered, co2] = await Promise.all([
    gatherPeriod(houseSources, period, now),
    co2Devices.length === 0
      ? Promise.resolve([])
      : store.query({ quantity: 'co2', ...range, bucketMs: HOUR_MS, aggregate: 'mean' }),
  ]);
  const co2Of = byDevice(co2);
  const mainMeters = gathered.meters.filter((m) => m.role === 'main').length;
  const expected = wholeHours(range).hours * mainMeters;
  return {
    gathered,
    house: {
      site: site.site.id,
      measures: gathered.measures,
      // The house report keeps the share; the meter-hours behind it are what the network adds up.
      meters: { covered: Math.round(gathered.coverage * expected), expected },
      co2Sensors: meterHours(
        co2Devices.map((d) => co2Of.get(d)?.points ?? []),
        range,
      ),
    },
  };
}

/** The network report of the period `label` (a month, quarter or year), at `now`. */
export async function buildNetworkReport(
  sources: NetworkReportSources,
  label: string,
  now: number = Date.now(),
): Promise<NetworkReportOut> {
  const chosen = networkPeriods(label, sources.sites, now);
  if (!chosen.ok) throw new RangeError(chosen.reason);
  const gathered = await Promise.all(
    sources.sites.map((site, i) => gatherHouse(sources, site, chosen.periods[i] as Period, now)),
  );
  const figures = networkFigures(gathered.map((g) => g.house));
  const houses = sources.sites.map((site, i) => {
    const period = chosen.periods[i] as Period;
    const g = gathered[i] as (typeof gathered)[number];
    const factor = locationFactor(period.firstDay.year, site.site.grid_co2_g_per_kwh);
    return {
      site: {
        id: site.site.id,
        name: site.site.name,
        areaM2: g.house.measures.areaM2,
        timezone: site.site.timezone,
      },
      period: periodOut(period, g.gathered),
      factors: {
        locationGPerKwh: factor.gPerKwh,
        locationYear: factor.year,
        locationSource: factor.source,
        marketGPerKwh: site.site.supplier_co2_g_per_kwh ?? null,
      },
      bookingsKnown: g.house.measures.bookingsKnown,
      figures: figures.houses[i]?.figures ?? [],
    };
  });
  const first = chosen.periods[0] as Period;
  return {
    period: { kind: first.kind, label: first.label },
    houses,
    total: {
      areaM2: houses.reduce((sum, h) => sum + h.site.areaM2, 0),
      figures: figures.total,
    },
    tables: [networkFiguresTable(houses, figures.total)],
    generatedAt: now,
  };
}

/** The figures as one long table: a row per house and figure, then the network's. */
export function networkFiguresTable(
  houses: NetworkReportOut['houses'],
  total: NetworkReportOut['total']['figures'],
): NetworkFiguresTableOut {
  return {
    id: 'network-figures',
    columns: [
      { key: 'scope' },
      { key: 'site' },
      { key: 'name' },
      { key: 'figure' },
      { key: 'unit' },
      { key: 'value' },
      { key: 'coverage', unit: 'ratio' },
    ],
    rows: [
      ...houses.flatMap((h) =>
        h.figures.map((f) => ({
          scope: 'house' as const,
          site: h.site.id,
          name: h.site.name,
          figure: f.key,
          unit: f.unit,
          value: f.value,
          coverage: f.coverage,
        })),
      ),
      ...total.map((f) => ({
        scope: 'network' as const,
        site: null,
        name: null,
        figure: f.key,
        unit: f.unit,
        value: f.value,
        coverage: f.coverage,
      })),
    ],
  };
}

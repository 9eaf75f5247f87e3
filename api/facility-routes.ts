import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { STAFF, STAFF_AND_BOARD } from '../access/roles.ts';
import type { BuildingFeed } from '../building/live-feed.ts';
import type { SiteConfig } from '../site/site.ts';
import { addUpChannels } from '../storage/device-totals.ts';
import type { SeriesQuery, TimeSeriesStore } from '../storage/store.ts';
import type { ApiContext } from './context.ts';
import { ApiError, ErrorBody } from './errors.ts';
import {
  ENERGY_BUCKET_MS,
  EnergyDays,
  energyByDay,
  HOUR_MS,
  OccupancyHours,
  occupancyByHour,
} from './facility-history.ts';
import {
  FacilityOverview,
  facilityOverview,
  freshForMs,
  localDayStart,
  localDays,
  type ProfileFacts,
} from './facility-overview.ts';
import { addCounts } from './quarantine-routes.ts';
import { freshen, latestFromStore } from './reading-routes.ts';

async function queryStore(store: TimeSeriesStore, q: SeriesQuery) {
  try {
    return await store.query(q);
  } catch (err) {
    throw new ApiError(503, `time-series store (${store.kind}) unavailable: ${(err as Error).message}`);
  }
}

/** One house as the facility view reads it: its site file, its readings and its live feed. */
export interface FacilityHouse {
  site: SiteConfig;
  store: TimeSeriesStore;
  feed: BuildingFeed;
}

/**
 * The facility view's three answers for any house of the network: the routes of this house
 * (`/api/facility/…`) and the site switch's (`/api/network/houses/:site/facility/…`) give the same.
 */
export function facilityAnswers({
  profiles,
  quarantine,
  now: clock,
}: Pick<ApiContext, 'profiles' | 'quarantine' | 'now'>) {
  const facts = new Map<string, ProfileFacts>(
    [...profiles].map(([id, p]) => [
      id,
      {
        quantities: p.quantities,
        reportingIntervalS: p.reportingIntervalS,
        sleeping: p.sleeping === true,
        ...(p.actions ? { actions: p.actions } : {}),
        ...(p.actionValues ? { actionValues: p.actionValues } : {}),
      },
    ]),
  );

  async function overview({ site, store, feed }: FacilityHouse): Promise<FacilityOverview> {
    const now = clock();
    const dayStart = localDayStart(now, site.site.timezone);
    const [stored, today] = await Promise.all([
      latestFromStore(store, {}),
      queryStore(store, { quantity: 'energy', from: dayStart, to: now + 1, aggregate: 'consumption' }),
    ]);
    let counts: { own: Record<string, number>; unattributed: Record<string, number> };
    try {
      // This house's devices' messages, and those whose topic names no device of any house (the
      // installation's, shown in every house as such).
      counts = quarantine.countsFor(site.site.id);
    } catch (err) {
      throw new ApiError(503, `quarantine store unavailable: ${(err as Error).message}`);
    }
    // A meter's channels (phases, outputs) add up.
    const consumptionToday = new Map<string, number>();
    for (const [device, total] of addUpChannels(today)) {
      if (total.points.length > 0)
        consumptionToday.set(
          device,
          total.points.reduce((sum, p) => sum + p.value, 0),
        );
    }
    return facilityOverview({
      site,
      now,
      readings: freshen(stored, feed.latest()),
      devices: feed.devices(),
      profiles: facts,
      consumptionToday,
      quarantine: addCounts(counts.own, counts.unattributed),
      quarantineUnattributed: counts.unattributed,
    });
  }

  async function energyDays({ site, store }: FacilityHouse, count: number): Promise<EnergyDays> {
    const now = clock();
    const timeZone = site.site.timezone;
    const mainMeters = new Set(site.devices.filter((d) => d.meter_role === 'main').map((d) => d.id));
    const days = localDays(now, count, timeZone);
    const first = days[0];
    if (!first) throw new ApiError(400, 'days must be at least 1');
    const series = await queryStore(store, {
      quantity: 'energy',
      from: first.from,
      to: now + 1,
      bucketMs: ENERGY_BUCKET_MS,
      aggregate: 'consumption',
    });
    return { timezone: timeZone, meters: [...mainMeters], days: energyByDay(days, series, mainMeters) };
  }

  async function occupancyHours({ site, store }: FacilityHouse, count: number): Promise<OccupancyHours> {
    const now = clock();
    const current = Math.floor(now / HOUR_MS) * HOUR_MS;
    const hours = Array.from({ length: count }, (_, i) => current - (count - 1 - i) * HOUR_MS);
    const sensors = site.devices.filter((d) => facts.get(d.profile)?.quantities.includes('occupancy'));
    const carryMs = new Map(sensors.map((d) => [d.id, freshForMs(facts.get(d.profile)?.reportingIntervalS)]));
    const longest = Math.max(0, ...carryMs.values());
    const first = hours[0] ?? current;
    const warmUp: number[] = [];
    for (let h = first - Math.ceil(longest / HOUR_MS) * HOUR_MS; h < first; h += HOUR_MS) warmUp.push(h);
    const from = warmUp[0] ?? first;
    const range = { quantity: 'occupancy', from, to: now + 1, bucketMs: HOUR_MS } as const;
    const [max, last] = await Promise.all([
      queryStore(store, { ...range, aggregate: 'max' }),
      queryStore(store, { ...range, aggregate: 'last' }),
    ]);
    const byHour = (series: typeof max) =>
      new Map(series.map((s) => [s.device, new Map(s.points.map((p) => [p.ts, p.value]))]));
    return occupancyByHour({
      hours,
      warmUp,
      spaceOf: new Map(sensors.map((d) => [d.id, d.space])),
      max: byHour(max),
      last: byHour(last),
      carryMs: (device) => carryMs.get(device) ?? freshForMs(undefined),
    });
  }

  return { overview, energyDays, occupancyHours };
}

export const FacilityOverviewSummary =
  'The building now: floors and spaces (what their sensors measure: occupancy, CO2, temperature, a door…), ' +
  'meters (power, kWh since local midnight, building total of the main meters), device health, quarantine count';
export const EnergyDaysQuery = Type.Object({
  days: Type.Optional(Type.Integer({ minimum: 1, maximum: 92, default: 30 })),
});
export const OccupancyHoursQuery = Type.Object({
  hours: Type.Optional(Type.Integer({ minimum: 1, maximum: 168, default: 24 })),
});

/** The facility view: one overview of the building now, and the history its charts need. */
export const facilityRoutes: FastifyPluginAsyncTypebox<ApiContext> = async (app, context) => {
  const answers = facilityAnswers(context);
  const house: FacilityHouse = { site: context.site, store: context.store, feed: context.feed };

  app.get(
    '/api/facility/overview',
    {
      // Device health and the quarantine are the facility's (as /api/devices and /api/quarantine).
      config: { access: STAFF },
      schema: {
        tags: ['readings'],
        summary: FacilityOverviewSummary,
        response: { 200: FacilityOverview, 401: ErrorBody, 403: ErrorBody, 503: ErrorBody },
      },
    },
    async () => answers.overview(house),
  );

  app.get(
    '/api/facility/energy-days',
    {
      config: { access: STAFF_AND_BOARD },
      schema: {
        tags: ['readings'],
        summary: "The building's consumption (main meters) per local calendar day, today last",
        querystring: EnergyDaysQuery,
        response: { 200: EnergyDays, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => answers.energyDays(house, request.query.days ?? 30),
  );

  app.get(
    '/api/facility/occupancy-hours',
    {
      config: { access: STAFF_AND_BOARD },
      schema: {
        tags: ['readings'],
        summary: 'Per hour: how many of the spaces with a presence sensor someone was in, current hour last',
        querystring: OccupancyHoursQuery,
        response: { 200: OccupancyHours, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => answers.occupancyHours(house, request.query.hours ?? 24),
  );
};

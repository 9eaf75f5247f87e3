import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import { STAFF, STAFF_AND_BOARD } from '../access/roles.ts';
import type { BuildingFeed } from '../building/live-feed.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { SiteConfig } from '../site/site.ts';
import { type ApiContext, SiteId } from './context.ts';
import { ApiError, ErrorBody } from './errors.ts';

const SiteOut = Type.Object({
  site: Type.Object({
    id: Type.String(),
    name: Type.String(),
    timezone: Type.String(),
    address: Type.Optional(Type.String()),
    supplier_co2_g_per_kwh: Type.Optional(Type.Number()),
  }),
  floors: Type.Array(
    Type.Object({ id: Type.String(), name: Type.String(), level: Type.Integer(), area_m2: Type.Number() }),
  ),
  spaces: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      floor: Type.String(),
      kind: Type.String(),
      area_m2: Type.Number(),
      capacity: Type.Optional(Type.Integer()),
      bookable: Type.Optional(Type.Boolean()),
      lock: Type.Optional(Type.String()),
      parent: Type.Optional(Type.String()),
      devices: Type.Array(Type.String(), { description: 'ids of the devices installed in the space' }),
    }),
  ),
});

export const DeviceOut = Type.Object({
  id: Type.String(),
  profile: Type.String(),
  space: Type.String(),
  floor: Type.String(),
  meterRole: Type.Union([Type.String(), Type.Null()]),
  online: Type.Union([Type.Boolean(), Type.Null()], {
    description: 'as the gateway announced; null if not yet',
  }),
  lastSeen: Type.Union([Type.Number(), Type.Null()], { description: 'epoch ms of the last message' }),
  battery: Type.Union([Type.Number(), Type.Null()], { description: 'percent' }),
  reportingIntervalS: Type.Union([Type.Number(), Type.Null()], { description: 'from the device profile' }),
  quantities: Type.Array(Type.String()),
});
export type DeviceOut = Static<typeof DeviceOut>;

/** The public face of the site file: never credentials, hashes, device user names or vendor topics. */
export function publicSite(site: SiteConfig): Static<typeof SiteOut> {
  const devicesIn = new Map<string, string[]>();
  for (const d of site.devices) devicesIn.set(d.space, [...(devicesIn.get(d.space) ?? []), d.id]);
  const s = site.site;
  return {
    site: {
      id: s.id,
      name: s.name,
      timezone: s.timezone,
      ...(s.address !== undefined ? { address: s.address } : {}),
      ...(s.supplier_co2_g_per_kwh !== undefined ? { supplier_co2_g_per_kwh: s.supplier_co2_g_per_kwh } : {}),
    },
    floors: site.floors.map(({ id, name, level, area_m2 }) => ({ id, name, level, area_m2 })),
    spaces: site.spaces.map((sp) => ({
      id: sp.id,
      name: sp.name,
      floor: sp.floor,
      kind: sp.kind,
      area_m2: sp.area_m2,
      ...(sp.capacity !== undefined ? { capacity: sp.capacity } : {}),
      ...(sp.bookable !== undefined ? { bookable: sp.bookable } : {}),
      ...(sp.lock !== undefined ? { lock: sp.lock } : {}),
      ...(sp.parent !== undefined ? { parent: sp.parent } : {}),
      devices: devicesIn.get(sp.id) ?? [],
    })),
  };
}

export function describeDevice(
  site: SiteConfig,
  feed: BuildingFeed,
  profiles: Map<string, DeviceProfile>,
  id: string,
): DeviceOut | undefined {
  const device = site.devices.find((d) => d.id === id);
  if (!device) return undefined;
  const floor = site.spaces.find((s) => s.id === device.space)?.floor ?? '';
  const state = feed.device(id);
  const profile = profiles.get(device.profile);
  return {
    id: device.id,
    profile: device.profile,
    space: device.space,
    floor,
    meterRole: device.meter_role ?? null,
    online: state?.online ?? null,
    lastSeen: state?.lastSeen ?? null,
    battery: state?.battery ?? null,
    reportingIntervalS: profile?.reportingIntervalS ?? null,
    quantities: profile ? [...profile.quantities] : [],
  };
}

export const siteRoutes: FastifyPluginAsyncTypebox<ApiContext> = async (app, { site, feed, profiles }) => {
  const siteOut = publicSite(site);

  app.get(
    '/api/site',
    {
      // The inventory (every space, technical rooms included, and the ids of the devices, which are their MQTT
      // user names) is for those who run and answer for the building. A member reads /api/spaces.
      config: { access: STAFF_AND_BOARD, tokenScope: 'spaces:read' },
      schema: {
        tags: ['site'],
        summary: 'The site: floors, every space and the devices in it (facility, board, admin)',
        response: { 200: SiteOut, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async () => siteOut,
  );

  app.get(
    '/api/devices',
    {
      config: { access: STAFF, tokenScope: 'readings:read' },
      schema: {
        tags: ['devices'],
        summary: 'All devices with health: online, last seen, battery',
        response: { 200: Type.Object({ devices: Type.Array(DeviceOut) }) },
      },
    },
    async () => ({
      devices: site.devices.flatMap((d) => describeDevice(site, feed, profiles, d.id) ?? []),
    }),
  );

  app.get(
    '/api/devices/:id',
    {
      config: { access: STAFF, tokenScope: 'readings:read' },
      schema: {
        tags: ['devices'],
        summary: 'One device with health',
        params: Type.Object({ id: SiteId }),
        response: { 200: DeviceOut, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const device = describeDevice(site, feed, profiles, request.params.id);
      if (!device) throw new ApiError(404, `unknown device "${request.params.id}"`);
      return device;
    },
  );
};

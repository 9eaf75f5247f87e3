import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { AuditLog } from '../access/audit-log.ts';
import { ANY_MEMBER, homeSiteOf, isGuestAt, type Member, ROLES } from '../access/roles.ts';
import type { RateLimiter } from '../access/unlock-rules.ts';
import { DAY_MS, DEFAULT_POLICY } from '../bookings/booking-rules.ts';
import {
  type Asker,
  AvailabilityOut,
  answerRefusals,
  BookingOut,
  houseBookings,
  MAX_RANGE_MS,
  NewBookingBody,
  Query,
  queryRange,
  Refusal,
  SpaceOut,
  signedIn,
} from './booking-routes.ts';
import { houseSeries, SERIES_SCHEMAS, seriesRefusalAnswer } from './booking-series-routes.ts';
import { SiteId } from './context.ts';
import { ErrorBody } from './errors.ts';
import type { Houses } from './houses.ts';
import { UnlockResponses, type UnlockShared, unlockAt } from './unlock-routes.ts';

/**
 * Members belong to the network: the member's routes for every house of it (`/api/houses/:site/…`), with the
 * same answers as this house's own routes (api/booking-routes.ts `houseBookings`, api/booking-series-routes.ts
 * `houseSeries` for moving and series, api/unlock-routes.ts `unlockAt`) on the house's own site file (spaces,
 * time zone, opening hours, `guests`), its own bookings and series (Records.bookingsAt) and its own lock
 * channel. Every route lets every member in, and the handler decides by the member's role in the house asked
 * for: staff there are staff (they move and change anyone's bookings and series there), anyone else a plain
 * member, and a member of another house a guest, who books, sees the free times of and opens only the kinds of
 * space the house's `guests` open to their home (403 `not_open_to_guests` otherwise). The facility manager of
 * one house is a plain member in another; these routes show spaces and bookings only, never a device.
 */

export interface HouseRoutesOptions {
  /** The network's houses (this one among them): site file, bookings and series, lock channel. */
  houses: Houses;
  audit: AuditLog;
  /** The unlock route's rate limit, shared: one bucket per member across every house's doors. */
  limiter: RateLimiter;
  graceBeforeMs: number;
  now: () => number;
}

const HouseParams = Type.Object({ site: SiteId });
const HouseSpaceParams = Type.Object({ site: SiteId, id: SiteId });
const HouseItemParams = Type.Object({ site: SiteId, id: Type.String({ minLength: 1, maxLength: 64 }) });

const HouseOut = Type.Object({
  id: Type.String(),
  name: Type.String(),
  timezone: Type.String({ description: 'opening hours and days are in this time zone' }),
  here: Type.Boolean({ description: 'the house this API serves' }),
  home: Type.Boolean({ description: "the member's home house" }),
  role: Type.Enum([...ROLES], { description: "the member's role in this house" }),
  guest: Type.Boolean({ description: 'the member comes as a guest: only the kinds the house opens to them' }),
  spaces: Type.Array(SpaceOut, { description: 'what the member may book here' }),
});

export const HouseBookingOut = Type.Object({
  ...BookingOut.properties,
  site: Type.String({ description: 'the house the booking is in' }),
  siteName: Type.String(),
});

export const houseRoutes: FastifyPluginAsyncTypebox<HouseRoutesOptions> = async (app, options) => {
  const { houses, now, audit } = options;
  const { installationHome } = houses;
  const houseOf = houses.each((house) => {
    const bookingHouse = { ...house, store: house.bookings, policy: DEFAULT_POLICY, now };
    return { ...house, answers: houseBookings(bookingHouse), series: houseSeries(bookingHouse) };
  });
  const shared: UnlockShared = {
    audit,
    graceBeforeMs: options.graceBeforeMs,
    limiter: options.limiter,
    now,
    auditSite: true,
  };

  /** The member as the house sees them: staff there only by a staff role there. */
  function askerIn(request: FastifyRequest, siteId: string): Asker {
    const member = signedIn(request.member);
    return { member, staff: houses.isStaffIn(member, siteId) };
  }

  const describe = (member: Member, siteId: string) => {
    const house = houseOf(siteId);
    const s = house.site.site;
    return {
      id: s.id,
      name: s.name,
      timezone: s.timezone,
      here: s.id === houses.here.site.site.id,
      home: s.id === homeSiteOf(member, installationHome),
      role: houses.roleOf(member, s.id),
      guest: isGuestAt(member, s.id, installationHome),
      spaces: house.answers.spaces(member),
    };
  };

  answerRefusals(app, seriesRefusalAnswer);

  app.get(
    '/api/houses',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary:
          "The network's houses this member may use, with the spaces they may book in each (their home first; another house only with a kind open to them)",
        response: { 200: Type.Object({ houses: Type.Array(HouseOut) }), 401: ErrorBody },
      },
    },
    async (request) => {
      const member = signedIn(request.member);
      const home = homeSiteOf(member, installationHome);
      const all = houses.all.map((house) => describe(member, house.site.site.id));
      return {
        houses: [
          ...all.filter((h) => h.id === home),
          ...all.filter((h) => h.id !== home && h.spaces.length > 0),
        ],
      };
    },
  );

  app.get(
    '/api/houses/:site/spaces',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary:
          'The spaces of a house of the network this member may book (a guest: the kinds open to them)',
        params: HouseParams,
        response: { 200: HouseOut, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => describe(signedIn(request.member), request.params.site),
  );

  app.get(
    '/api/houses/:site/spaces/:id/availability',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary: "Busy and free times of a space of a house of the network (in that house's bookings)",
        params: HouseSpaceParams,
        querystring: Type.Object({ from: Type.Optional(Query), to: Type.Optional(Query) }),
        response: { 200: AvailabilityOut, 400: ErrorBody, 401: ErrorBody, 403: Refusal, 404: ErrorBody },
      },
    },
    async (request) =>
      houseOf(request.params.site).answers.availability(
        askerIn(request, request.params.site),
        request.params.id,
        request.query,
      ),
  );

  app.post(
    '/api/houses/:site/bookings',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary:
          "Book a space in a house of the network, by that house's rules (time zone, opening hours, guests) against its bookings",
        params: HouseParams,
        body: NewBookingBody,
        response: {
          201: HouseBookingOut,
          400: Refusal,
          401: ErrorBody,
          403: Refusal,
          404: ErrorBody,
          409: Refusal,
          422: Refusal,
        },
      },
    },
    async (request, reply) => {
      const house = houseOf(request.params.site);
      const booking = await house.answers.book(askerIn(request, request.params.site), request.body);
      return reply.code(201).send({
        ...house.answers.out(booking),
        site: house.site.site.id,
        siteName: house.site.site.name,
      });
    },
  );

  app.delete(
    '/api/houses/:site/bookings/:id',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary: "Cancel a booking in a house of the network (your own; that house's staff any)",
        params: HouseItemParams,
        response: { 200: HouseBookingOut, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      const house = houseOf(request.params.site);
      const cancelled = await house.answers.cancel(askerIn(request, request.params.site), request.params.id);
      return { ...house.answers.out(cancelled), site: house.site.site.id, siteName: house.site.site.name };
    },
  );

  app.post(
    '/api/houses/:site/spaces/:id/unlock',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['access'],
        summary:
          "Open the lock of a space you booked in a house of the network (that house's facility and admin: any of its locks); audited with the house",
        params: HouseSpaceParams,
        response: UnlockResponses,
      },
    },
    async (request, reply) => {
      signedIn(request.member);
      return unlockAt(houseOf(request.params.site), shared, request, reply, request.params.id);
    },
  );

  // Moving a booking and the series, by the house's rules (its time zone is the series' wall clock) against its
  // bookings; the same answers as this house's own routes (api/booking-series-routes.ts `houseSeries`).
  app.patch(
    '/api/houses/:site/bookings/:id',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary:
          "Move a booking in a house of the network (your own; that house's staff any) to another time in its space, by that house's rules",
        params: HouseItemParams,
        ...SERIES_SCHEMAS.move,
      },
    },
    async (request) =>
      houseOf(request.params.site).series.move(
        askerIn(request, request.params.site),
        request.params.id,
        request.body,
      ),
  );

  app.post(
    '/api/houses/:site/booking-series/preview',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary:
          "A series' dates in a house of the network before saving, on that house's wall clock: free, taken or refused",
        params: HouseParams,
        ...SERIES_SCHEMAS.preview,
      },
    },
    async (request) =>
      houseOf(request.params.site).series.preview(askerIn(request, request.params.site), request.body),
  );

  app.post(
    '/api/houses/:site/booking-series',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary:
          "Book a series in a house of the network, by that house's rules against its bookings (201; 403 a kind not open to a guest; 409 taken; 422 refused)",
        params: HouseParams,
        ...SERIES_SCHEMAS.save,
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(
          await houseOf(request.params.site).series.save(askerIn(request, request.params.site), request.body),
        ),
  );

  app.get(
    '/api/houses/:site/booking-series/:id',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary: "A series in a house of the network and its dates (your own; that house's staff any)",
        params: HouseItemParams,
        ...SERIES_SCHEMAS.get,
      },
    },
    async (request) =>
      houseOf(request.params.site).series.get(askerIn(request, request.params.site), request.params.id),
  );

  app.delete(
    '/api/houses/:site/booking-series/:id',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary:
          'End a series in a house of the network from a date on (default: its next date not yet begun)',
        params: HouseItemParams,
        ...SERIES_SCHEMAS.end,
      },
    },
    async (request) =>
      houseOf(request.params.site).series.end(
        askerIn(request, request.params.site),
        request.params.id,
        request.query.from,
      ),
  );

  app.post(
    '/api/houses/:site/booking-series/:id/change/preview',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary:
          'A change of a series in a house of the network from a date on, before saving: the dates given up and the new ones judged',
        params: HouseItemParams,
        ...SERIES_SCHEMAS.changePreview,
      },
    },
    async (request) =>
      houseOf(request.params.site).series.previewChange(
        askerIn(request, request.params.site),
        request.params.id,
        request.body,
      ),
  );

  app.post(
    '/api/houses/:site/booking-series/:id/change',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary:
          'Change a series in a house of the network from a date on, in one transaction (the old rule ends before it, a new series from its day on)',
        params: HouseItemParams,
        ...SERIES_SCHEMAS.change,
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(
          await houseOf(request.params.site).series.change(
            askerIn(request, request.params.site),
            request.params.id,
            request.body,
          ),
        ),
  );

  app.get(
    '/api/me/bookings',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary: 'My bookings in every house of the network, each with its house, by start',
        querystring: Type.Object({ from: Type.Optional(Query), to: Type.Optional(Query) }),
        response: {
          200: Type.Object({ bookings: Type.Array(HouseBookingOut) }),
          400: ErrorBody,
          401: ErrorBody,
        },
      },
    },
    async (request) => {
      const member = signedIn(request.member);
      const t = now();
      const range = queryRange(request.query.from ?? String(t - DAY_MS), request.query.to, t, MAX_RANGE_MS);
      const each = await Promise.all(
        houses.all.map(async ({ site }) => {
          const house = houseOf(site.site.id);
          return (await house.bookings.listMine(member.id, range)).map((b) => ({
            start: b.start,
            booking: {
              ...house.answers.out(b),
              site: house.site.site.id,
              siteName: house.site.site.name,
            },
          }));
        }),
      );
      return {
        bookings: each
          .flat()
          .sort((a, b) => a.start - b.start)
          .map((b) => b.booking),
      };
    },
  );
};

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import { mayGiveGuestKey } from '../access/guest-key-rules.ts';
import { ANY_MEMBER, type Member } from '../access/roles.ts';
import { DAY_MS } from '../bookings/booking-rules.ts';
import { checkEventDetails, type EventDate, visibleTo } from '../events/event-rules.ts';
import type { EventStore } from '../events/event-store.ts';
import { eventsCalendar } from '../events/events-calendar.ts';
import { organiserView, organiserWindow } from '../events/organiser-rules.ts';
import type { SignUpStore } from '../events/signup-store.ts';
import { SiteId } from './context.ts';
import { ApiError, ErrorBody } from './errors.ts';
import type { House, Houses } from './houses.ts';

/**
 * Public events: an organiser (a member on their own booking or series, or staff on any) gives the time a
 * title, a description, a capacity and who may see it. The dates of public events are for anyone, without
 * sign-in: JSON for the /events page and an iCalendar feed; members see the members-only ones as well.
 * Nothing public names a person.
 *
 * In a network a member makes events of their bookings and series in every house (`POST
 * /api/houses/:site/events`): the booking or series is looked up in that house's bookings, and its staff (not
 * another house's) may make one of anyone's there or cancel it. A date's house is its booking's, so the
 * listings, the feed and the organiser's page name it and give its times in its time zone.
 */

export interface EventRoutesOptions {
  /**
   * The network's houses (this one among them): each date names its house, the listings can be filtered by
   * one (`?site=`), and a booking or series is read in its own house's bookings only.
   */
  houses: Houses;
  events: EventStore;
  /** The dates' places taken; without it every date shows none taken. */
  signUps?: Pick<SignUpStore, 'counts'>;
  now?: () => number;
}

const Instant = Type.String({ format: 'date-time' });
const AHEAD_MS = 60 * DAY_MS;
const FEED_AHEAD_MS = 400 * DAY_MS;
const FEED_PAST_MS = 30 * DAY_MS;

const EventDateOut = Type.Object({
  eventId: Type.String(),
  dateId: Type.String({ description: 'the date, for signing up to it' }),
  siteId: Type.String({ description: 'the house (site id) the date is in' }),
  siteName: Type.String({ description: "the house's name" }),
  timezone: Type.String({ description: "the house's time zone: the date's local times are in it" }),
  title: Type.String(),
  description: Type.String(),
  spaceId: Type.String(),
  spaceName: Type.String(),
  start: Instant,
  end: Instant,
  capacity: Type.Union([Type.Integer(), Type.Null()]),
  visibility: Type.Union([Type.Literal('public'), Type.Literal('members')]),
  taken: Type.Integer({ description: 'places taken by sign-ups' }),
  waiting: Type.Integer({ description: 'places asked for on the waiting list' }),
});

const OrganisedDateOut = Type.Object({
  dateId: Type.String(),
  siteId: Type.String({ description: 'the house (site id) the date is in' }),
  siteName: Type.String(),
  timezone: Type.String({ description: "the house's time zone" }),
  spaceId: Type.String(),
  spaceName: Type.String(),
  start: Instant,
  end: Instant,
  occurrence: Type.Union([Type.String(), Type.Null()]),
  taken: Type.Integer({ description: 'places taken by sign-ups' }),
  waiting: Type.Integer({ description: 'places asked for on the waiting list' }),
  left: Type.Union([Type.Integer(), Type.Null()], { description: 'places left; null: no capacity kept' }),
  attended: Type.Union([Type.Integer(), Type.Null()], { description: "the organiser's count of who came" }),
  signUpOpen: Type.Boolean({ description: 'the date still takes sign-ups (it has not begun)' }),
  countOpen: Type.Boolean({ description: 'how many came may be entered (the date has begun)' }),
  guestKey: Type.Boolean({ description: 'the organiser may give a guest a key for this date' }),
});

const OrganisedEventOut = Type.Object({
  id: Type.String(),
  title: Type.String(),
  description: Type.String(),
  capacity: Type.Union([Type.Integer(), Type.Null()]),
  visibility: Type.Union([Type.Literal('public'), Type.Literal('members')]),
  bookingId: Type.Union([Type.String(), Type.Null()]),
  seriesId: Type.Union([Type.String(), Type.Null()]),
  dates: Type.Array(OrganisedDateOut),
});

const NewEventBody = Type.Object(
  {
    title: Type.String({ maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 4000 })),
    // Null first: Fastify's ajv coerces a null to 0 for an integer, and 0 places is refused.
    capacity: Type.Optional(Type.Union([Type.Null(), Type.Integer()])),
    visibility: Type.Union([Type.Literal('public'), Type.Literal('members')]),
    bookingId: Type.Optional(Type.String({ maxLength: 64 })),
    seriesId: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
type NewEventBody = Static<typeof NewEventBody>;

const NewEventResponses = {
  201: Type.Object({
    id: Type.String(),
    title: Type.String(),
    visibility: Type.String(),
    siteId: Type.String({ description: 'the house the event is in' }),
  }),
  400: ErrorBody,
  401: ErrorBody,
  404: ErrorBody,
};

const HouseQuery = Type.Object({
  site: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: '^[A-Za-z0-9_-]+$',
      description: "one house's dates only (a site id of the network)",
    }),
  ),
});

const HouseOut = Type.Object({ id: Type.String(), name: Type.String(), timezone: Type.String() });

export const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (app, options) => {
  const { houses, events } = options;
  const site = houses.here.site;
  const now = options.now ?? Date.now;
  const sites = new Map(houses.all.map((h) => [h.site.site.id, h.site]));
  const housesOut = houses.all.map(({ site: h }) => ({
    id: h.site.id,
    name: h.site.name,
    timezone: h.site.timezone,
  }));
  /** A date's house: its booking's site (a booking from before sites: this one). */
  const houseOf = (d: EventDate) => (d.site !== null ? houses.get(d.site)?.site : undefined) ?? site;
  /** The house asked for by `?site=`, checked; undefined: every house. */
  const houseAsked = (siteId: string | undefined) =>
    siteId === undefined ? undefined : houses.asked(siteId).site.site.id;
  /** The house an event is in: the one whose bookings hold its booking or series. */
  const houseOfEvent = async (event: { bookingId: string | null; seriesId: string | null }) => {
    for (const house of houses.all) {
      const found = event.bookingId
        ? await house.bookings.get(event.bookingId)
        : event.seriesId
          ? await house.bookings.getSeries(event.seriesId)
          : undefined;
      if (found) return house.site.site.id;
    }
    return undefined;
  };

  const out = (d: EventDate, counts: Map<string, { confirmed: number; waiting: number }>) => {
    const house = houseOf(d);
    return {
      eventId: d.eventId,
      dateId: d.dateId,
      siteId: house.site.id,
      siteName: house.site.name,
      timezone: house.site.timezone,
      title: d.title,
      description: d.description,
      spaceId: d.spaceId,
      spaceName: house.spaces.find((s) => s.id === d.spaceId)?.name ?? d.spaceId,
      start: new Date(d.start).toISOString(),
      end: new Date(d.end).toISOString(),
      capacity: d.capacity,
      visibility: d.visibility,
      taken: counts.get(`${d.eventId} ${d.dateId}`)?.confirmed ?? 0,
      waiting: counts.get(`${d.eventId} ${d.dateId}`)?.waiting ?? 0,
    };
  };
  const upcoming = async (signedIn: boolean, house?: string) => {
    const t = now();
    const range = { start: t, end: t + AHEAD_MS };
    const dates = await events.datesWithin(range, signedIn ? 'all' : 'public', house);
    // Dates that began before now but still run are shown too: their counts from a day back.
    const counts = new Map(
      ((await options.signUps?.counts({ start: t - DAY_MS, end: range.end })) ?? []).map((c) => [
        `${c.eventId} ${c.dateId}`,
        c,
      ]),
    );
    return { dates: visibleTo(dates, signedIn).map((d) => out(d, counts)) };
  };

  app.get(
    '/api/public/events',
    {
      config: { access: 'public' },
      schema: {
        tags: ['events'],
        summary:
          'The public events of the next 60 days, for anyone (no sign-in; no person named), each with its house; ' +
          '?site= one house only',
        querystring: HouseQuery,
        response: {
          200: Type.Object({
            site: Type.Object({ name: Type.String(), timezone: Type.String() }),
            houses: Type.Array(HouseOut, { description: "the network's houses (one without a network)" }),
            dates: Type.Array(EventDateOut),
          }),
          400: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const house = houseAsked(request.query.site);
      return reply.header('cache-control', 'public, max-age=60').send({
        site: { name: site.site.name, timezone: site.site.timezone },
        houses: housesOut,
        ...(await upcoming(false, house)),
      });
    },
  );

  app.get(
    '/api/public/events.ics',
    {
      config: { access: 'public' },
      schema: {
        tags: ['events'],
        summary:
          "The public events as an iCalendar feed anyone can subscribe to, each date's location in its house; " +
          '?site= one house only',
        produces: ['text/calendar'],
        querystring: HouseQuery,
        response: {
          200: Type.String({ description: 'text/calendar (RFC 5545)' }),
          400: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const house = houseAsked(request.query.site);
      const t = now();
      const dates = await events.datesWithin(
        { start: t - FEED_PAST_MS, end: t + FEED_AHEAD_MS },
        'public',
        house,
      );
      // One house's feed is named after it; the whole network's after this house.
      const named = (house !== undefined ? sites.get(house) : undefined) ?? site;
      return reply
        .type('text/calendar; charset=utf-8')
        .header('cache-control', 'public, max-age=300')
        .send(eventsCalendar(named, visibleTo(dates, false), t, sites));
    },
  );

  app.get(
    '/api/events',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['events'],
        summary:
          'The events of the next 60 days, members-only ones included, each with its house; ?site= one house',
        querystring: HouseQuery,
        response: {
          200: Type.Object({ dates: Type.Array(EventDateOut) }),
          400: ErrorBody,
          401: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request) => upcoming(true, houseAsked(request.query.site)),
  );

  app.get(
    '/api/me/events',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['events'],
        summary:
          'The events you organise, each with its dates of the last month and the next 60 days: places taken, waiting, who came (counts only, never who)',
        response: { 200: Type.Object({ events: Type.Array(OrganisedEventOut) }), 401: ErrorBody },
      },
    },
    async (request) => {
      const member = request.member;
      if (!member) throw new ApiError(401, 'sign in first');
      const t = now();
      const window = organiserWindow(t);
      const [mine, dates] = await Promise.all([
        events.organisedBy(member.id),
        events.datesOrganisedBy(member.id, window),
      ]);
      // Counts are kept by the date's start: a date that began before the window but overlaps it, too.
      const counts = (await options.signUps?.counts({ start: window.start - DAY_MS, end: window.end })) ?? [];
      return {
        events: organiserView(mine, dates, counts, t).map(({ event, dates }) => ({
          id: event.id,
          title: event.title,
          description: event.description,
          capacity: event.capacity,
          visibility: event.visibility,
          bookingId: event.bookingId,
          seriesId: event.seriesId,
          dates: dates.map((d) => {
            // The date's own house: its room, its lock and its time zone (a room id repeats between houses).
            const house = houseOf(d.date);
            const space = house.spaces.find((s) => s.id === d.date.spaceId);
            return {
              dateId: d.date.dateId,
              siteId: house.site.id,
              siteName: house.site.name,
              timezone: house.site.timezone,
              spaceId: d.date.spaceId,
              spaceName: space?.name ?? d.date.spaceId,
              start: new Date(d.date.start).toISOString(),
              end: new Date(d.date.end).toISOString(),
              occurrence: d.date.occurrence,
              taken: d.taken,
              waiting: d.waiting,
              left: d.left,
              attended: d.attended,
              signUpOpen: d.signUpOpen,
              countOpen: d.countOpen,
              guestKey: mayGiveGuestKey({
                host: member,
                booking: { ...d.date, id: d.date.dateId, memberId: d.date.bookedBy },
                organisesEventOnIt: true,
                space,
                lockInstalled: space?.lock !== undefined && house.devices.some((x) => x.id === space.lock),
                now: t,
              }).ok,
            };
          }),
        })),
      };
    },
  );

  /** Makes an event of a booking or series of `house` (this one or another of the network). */
  const make = async (member: Member | null, house: House, body: NewEventBody) => {
    if (!member) throw new ApiError(401, 'sign in first');
    const { bookingId, seriesId } = body;
    if ((bookingId === undefined) === (seriesId === undefined))
      throw new ApiError(400, 'give either bookingId or seriesId');
    const siteId = house.site.site.id;
    const owner = bookingId
      ? (await house.bookings.get(bookingId))?.memberId
      : (await house.bookings.getSeries(seriesId as string))?.memberId;
    // Someone else's booking, or one of another house, answers like one that does not exist.
    if (!owner || (!houses.isStaffIn(member, siteId) && owner !== member.id))
      throw new ApiError(404, `no ${bookingId ? 'booking' : 'booking series'} "${bookingId ?? seriesId}"`);
    const verdict = checkEventDetails({
      title: body.title,
      description: body.description ?? '',
      capacity: body.capacity ?? null,
      visibility: body.visibility,
    });
    if (!verdict.ok) throw new ApiError(400, verdict.message);
    const event = await events.create(
      {
        ...verdict.details,
        bookingId: bookingId ?? null,
        seriesId: seriesId ?? null,
        organiserId: member.id,
      },
      now(),
    );
    return { id: event.id, title: event.title, visibility: event.visibility, siteId };
  };

  app.post(
    '/api/events',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['events'],
        summary: 'Make an event of your booking or booking series (staff: of any)',
        body: NewEventBody,
        response: NewEventResponses,
      },
    },
    async (request, reply) => reply.code(201).send(await make(request.member, houses.here, request.body)),
  );

  app.post(
    '/api/houses/:site/events',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['events'],
        summary:
          "Make an event of your booking or booking series in a house of the network (that house's staff: of any there)",
        description:
          'As POST /api/events, with the booking or series in the house named (404 for one of another house, or a house the network does not have). Its dates carry the house: the listings and the feed name it and give its times in its time zone.',
        params: Type.Object({ site: SiteId }),
        body: NewEventBody,
        response: NewEventResponses,
      },
    },
    async (request, reply) =>
      reply.code(201).send(await make(request.member, houses.asked(request.params.site), request.body)),
  );

  app.delete(
    '/api/events/:id',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['events'],
        summary: "Cancel an event (its organiser, or staff of the event's house); its bookings stay",
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 204: Type.Null(), 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const member = request.member;
      if (!member) throw new ApiError(401, 'sign in first');
      const event = await events.get(request.params.id);
      // Staff cancel the events of their own house, not another's.
      const mayCancel = async (e: NonNullable<typeof event>) => {
        if (e.organiserId === member.id) return true;
        const house = await houseOfEvent(e);
        return house !== undefined && houses.isStaffIn(member, house);
      };
      if (!event || event.cancelledAt !== null || !(await mayCancel(event)))
        throw new ApiError(404, `no event "${request.params.id}"`);
      await events.cancel(event.id, now());
      return reply.code(204).send(null);
    },
  );
};

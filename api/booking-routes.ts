import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { ANY_MEMBER, guestVisit, type Member, openToGuests, STAFF } from '../access/roles.ts';
import { bookingEvent } from '../bookings/booking-events.ts';
import {
  BOOKING_REFUSALS,
  type BookableKind,
  type BookingPolicy,
  type BookingRefusalCode,
  checkBookingRequest,
  DAY_MS,
  DEFAULT_POLICY,
  freeSlots,
  type Interval,
  isBookable,
  openingIntervals,
} from '../bookings/booking-rules.ts';
import type { Booking, BookingSeriesStore, BookingStore } from '../bookings/booking-store.ts';
import type { CalendarTokens } from '../bookings/calendar-feed.ts';
import { bookingsCalendar, CALENDAR_TOKEN_PATTERN } from '../bookings/calendar-feed.ts';
import type { EventAnnouncer } from '../building/events.ts';
import type { SiteConfig, SpaceConfig } from '../site/site.ts';
import { SiteId } from './context.ts';
import { ApiError, ErrorBody, errorBody } from './errors.ts';
import { parseInstant } from './time-range.ts';

/**
 * Spaces and bookings: what can be booked, when it is free, booking and cancelling, and the member's
 * bookings as a calendar feed. The rules (bookings/booking-rules.ts) decide whether a request is acceptable;
 * the store decides, atomically, whether the slot is still free. Members see only their own bookings and
 * never who booked what else; ids of other members' bookings answer 404 like ids that do not exist.
 */

export interface BookingRoutesOptions {
  site: SiteConfig;
  /**
   * In a network: the site of members who name no home (the installation's first); default this site. A
   * member whose home is another site books here as a guest, by this site file's `guests`.
   */
  installationHome?: string;
  /** The bookings (the calendar feed reads the rules of series too). */
  store: BookingStore & BookingSeriesStore;
  /** The members' calendar-feed tokens. */
  tokens: CalendarTokens;
  /** In a network: the other houses and their bookings, whose bookings of a member join their calendar feed. */
  elsewhere?: readonly { site: SiteConfig; store: Pick<BookingStore, 'listMine'> }[];
  policy?: BookingPolicy;
  now?: () => number;
  /** Where a booking made or cancelled is told (the building feed); without one it is not. */
  events?: EventAnnouncer;
}

/** The longest range one availability or listing request may span (a Protel booking is at most 8 weeks). */
export const MAX_RANGE_MS = 62 * DAY_MS;
const CALENDAR_PAST_MS = 90 * DAY_MS;
const CALENDAR_AHEAD_MS = 400 * DAY_MS;
/** Date-time with a time zone: `2026-03-02T09:00:00+01:00`, `2026-03-02T08:00Z`. */
const BOOKING_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

const Instant = Type.String({ format: 'date-time', description: 'ISO 8601 date-time (UTC)' });
export const Query = Type.String({
  maxLength: 40,
  description: 'ISO 8601 date or date-time with offset, or epoch ms',
});

export const SpaceOut = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  floor: Type.String(),
  floorName: Type.String(),
  capacity: Type.Union([Type.Integer(), Type.Null()]),
  area_m2: Type.Number(),
  hasLock: Type.Boolean({ description: 'the door opens by phone for whoever booked it' }),
  maxLengthMinutes: Type.Integer({ description: 'longest booking of this kind of space' }),
  openingHours: Type.Array(
    Type.Object({ days: Type.Array(Type.Integer()), open: Type.String(), close: Type.String() }),
    { description: 'local times in the site time zone; empty: always open' },
  ),
});

export const BookingOut = Type.Object({
  id: Type.String(),
  memberId: Type.String(),
  spaceId: Type.String(),
  spaceName: Type.String(),
  start: Instant,
  end: Instant,
  status: Type.Union([
    Type.Literal('booked'),
    Type.Literal('checked_in'),
    Type.Literal('released'),
    Type.Literal('cancelled'),
  ]),
  checkedInAt: Type.Union([Instant, Type.Null()], { description: 'when the sensor first saw presence' }),
  releasedAt: Type.Union([Instant, Type.Null()], { description: 'when it was released as a no-show' }),
  cancelledAt: Type.Union([Instant, Type.Null()]),
  createdAt: Instant,
  seriesId: Type.Union([Type.String(), Type.Null()], { description: 'the series this is one date of' }),
  occurrence: Type.Union([Type.String(), Type.Null()], {
    description: "that date's local start in its series (YYYY-MM-DDTHH:MM, site time)",
  }),
});
export type BookingOut = Static<typeof BookingOut>;
export type SpaceOut = Static<typeof SpaceOut>;

export const Refusal = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
    reason: Type.Optional(
      Type.String({
        description: `stable code for the dashboard: ${Object.keys(BOOKING_REFUSALS).join(', ')}`,
      }),
    ),
    conflict: Type.Optional(
      Type.Object(
        { start: Instant, end: Instant },
        { description: 'the booked time in the way (never whose)' },
      ),
    ),
  },
  { description: 'Why the booking was refused' },
);

export const Busy = Type.Object({
  start: Instant,
  end: Instant,
  mine: Type.Boolean(),
  bookingId: Type.Optional(Type.String({ description: 'staff and integration tokens (bookings:read) only' })),
  memberId: Type.Optional(Type.String({ description: 'staff only' })),
});

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));
const isStaff = (member: Member) => STAFF.includes(member.role);

export class Refused extends ApiError {
  constructor(
    readonly reason: BookingRefusalCode,
    message: string,
    readonly conflict?: Interval,
  ) {
    super(BOOKING_REFUSALS[reason].status, message);
  }
}

export function signedIn(member: Member | null): Member {
  // Every route here declares ANY_MEMBER, so the auth hook has already answered 401 without one.
  if (!member) throw new ApiError(401, 'sign in first (POST /api/auth/login)');
  return member;
}

function bookingTime(text: string, field: string): number {
  const parsed = BOOKING_TIME.test(text) ? parseInstant(text) : undefined;
  if (parsed?.ok) return parsed.value;
  // An impossible day (30 February) says so; anything else gets the format the booking needs.
  const detail = parsed ? parsed.reason : `"${text}": ${BOOKING_REFUSALS.invalid_time.text}`;
  throw new Refused('invalid_time', `${field} ${detail}`);
}

export function queryRange(
  from: string | undefined,
  to: string | undefined,
  now: number,
  defaultMs: number,
): Interval {
  const parse = (text: string, name: string) => {
    const parsed = parseInstant(text);
    if (!parsed.ok) throw new ApiError(400, `${name}: ${parsed.reason}`);
    return parsed.value;
  };
  const start = from === undefined ? now : parse(from, 'from');
  const end = to === undefined ? start + defaultMs : parse(to, 'to');
  if (end <= start) throw new ApiError(400, '"to" must be after "from"');
  if (end - start > MAX_RANGE_MS) throw new ApiError(400, `at most ${MAX_RANGE_MS / DAY_MS} days at once`);
  return { start, end };
}

/** One house's bookings as the member routes answer them: here (`/api/…`) or another house (`/api/houses/:site/…`). */
export interface BookingHouse {
  site: SiteConfig;
  /** The site of members who name no home (the installation's first). */
  installationHome: string;
  /** This house's bookings (Records.bookingsAt(site)): its conflicts are its own. */
  store: BookingStore;
  policy: BookingPolicy;
  now: () => number;
  /** Where a booking made or cancelled is told; the event names this house. */
  events?: EventAnnouncer | undefined;
}

/** Who asks, as the house sees them: the member, and whether their role there is a staff role. */
export interface Asker {
  member: Member;
  staff: boolean;
}

export const AvailabilityOut = Type.Object({
  space: Type.String(),
  from: Instant,
  to: Instant,
  busy: Type.Array(Busy),
  free: Type.Array(Type.Object({ start: Instant, end: Instant })),
});

export const NewBookingBody = Type.Object(
  {
    spaceId: SiteId,
    start: Type.String({
      maxLength: 40,
      description: 'ISO 8601 with offset, e.g. 2026-03-02T09:00+01:00',
    }),
    end: Type.String({ maxLength: 40 }),
  },
  { additionalProperties: false },
);

/**
 * The answers of the member's booking routes for one house, on that house's site file (spaces, time zone,
 * opening hours, `guests`) and its own bookings. The routes of this house and those of the network's other
 * houses (api/house-routes.ts) answer through the same functions.
 */
export function houseBookings(house: BookingHouse) {
  const { site, store, policy, now, installationHome } = house;
  const timeZone = site.site.timezone;
  const spaces = new Map(site.spaces.map((s) => [s.id, s]));
  const floorName = new Map(site.floors.map((f) => [f.id, f.name]));

  const out = (b: Booking): BookingOut => ({
    id: b.id,
    memberId: b.memberId,
    spaceId: b.spaceId,
    spaceName: spaces.get(b.spaceId)?.name ?? b.spaceId,
    start: iso(b.start),
    end: iso(b.end),
    status: b.status,
    checkedInAt: isoOrNull(b.checkedInAt),
    releasedAt: isoOrNull(b.releasedAt),
    cancelledAt: isoOrNull(b.cancelledAt),
    createdAt: iso(b.createdAt),
    seriesId: b.seriesId ?? null,
    occurrence: b.occurrence ?? null,
  });

  const spaceOut = (s: SpaceConfig): SpaceOut => ({
    id: s.id,
    name: s.name,
    kind: s.kind,
    floor: s.floor,
    floorName: floorName.get(s.floor) ?? s.floor,
    capacity: s.capacity ?? null,
    area_m2: s.area_m2,
    hasLock: s.lock !== undefined,
    maxLengthMinutes: Math.round(policy.maxLengthMs[s.kind as BookableKind] / 60_000),
    openingHours: s.opening_hours ?? [],
  });

  const bookableSpace = (id: string): SpaceConfig => {
    const space = spaces.get(id);
    if (!space || !isBookable(space)) throw new ApiError(404, `no bookable space "${id}"`);
    return space;
  };

  /** How the member comes to this house: a guest from their home (bound by its `guests`), or one of its own. */
  const visit = (member: Member) =>
    guestVisit(member, { id: site.site.id, guests: site.guests }, installationHome);

  /** The bookable spaces; for a guest only the kinds this house opens to their home site. */
  const spacesFor = (member: Member | null): SpaceOut[] => {
    const guest = member ? visit(member) : undefined;
    return site.spaces
      .filter(isBookable)
      .filter((s) => !guest || openToGuests(guest.rules, guest.from, s.kind))
      .map(spaceOut);
  };

  return {
    site,
    out,
    spaces: spacesFor,
    bookableSpace,

    /** Busy and free times of a space; a guest is refused a kind the house does not open to them. */
    async availability(
      asker: Asker | null,
      spaceId: string,
      query: { from?: string | undefined; to?: string | undefined },
    ) {
      const member = asker?.member ?? null;
      const space = bookableSpace(spaceId);
      const guest = member ? visit(member) : undefined;
      if (guest && !openToGuests(guest.rules, guest.from, space.kind))
        throw new Refused(
          'not_open_to_guests',
          `${site.site.name} does not open a ${space.kind} to members of ${guest.from}`,
        );
      const range = queryRange(query.from, query.to, now(), DAY_MS);
      const bookings = await store.spaceBookings(space.id, range.start, range.end);
      const staff = asker?.staff === true;
      return {
        space: space.id,
        from: iso(range.start),
        to: iso(range.end),
        busy: bookings.map((b) => ({
          start: iso(b.start),
          end: iso(b.end),
          mine: member !== null && b.memberId === member.id,
          ...(staff ? { bookingId: b.id, memberId: b.memberId } : member === null ? { bookingId: b.id } : {}),
        })),
        free: freeSlots(openingIntervals(space, range, timeZone), bookings, range).map((f) => ({
          start: iso(f.start),
          end: iso(f.end),
        })),
      };
    },

    /** Books a space of this house by its rules (time zone, opening hours, guests) against its bookings. */
    async book(asker: Asker, body: Static<typeof NewBookingBody>): Promise<Booking> {
      const { member, staff } = asker;
      const space = spaces.get(body.spaceId);
      if (!space) throw new ApiError(404, `unknown space "${body.spaceId}"`);
      const start = bookingTime(body.start, 'start');
      const end = bookingTime(body.end, 'end');
      const at = now();
      const guest = visit(member);
      const verdict = checkBookingRequest(
        space,
        { start, end },
        at,
        timeZone,
        policy,
        // Opening hours bind members; staff may hold an evening event outside them.
        { ...(guest ? { guest } : {}), openingHoursBind: !staff },
      );
      if (!verdict.ok) throw new Refused(verdict.reason, verdict.message);
      const result = await store.create({ memberId: member.id, spaceId: space.id, start, end }, at);
      if (!result.ok) throw new Refused('slot_taken', BOOKING_REFUSALS.slot_taken.text, result.conflict);
      house.events?.announce(bookingEvent('booking-made', site.site.id, result.booking, at));
      return result.booking;
    },

    /** Cancels a booking of this house: the member's own; staff of this house any. */
    async cancel(asker: Asker, id: string): Promise<Booking> {
      const at = now();
      const result = await store.cancel(id, { memberId: asker.member.id, staff: asker.staff }, at);
      if (result === 'not_found') throw new ApiError(404, `no booking "${id}"`);
      if (result === 'already_ended')
        throw new ApiError(409, 'this booking has already ended, was cancelled or was released');
      const cancelled = (await store.get(id)) as Booking;
      house.events?.announce(bookingEvent('booking-cancelled', site.site.id, cancelled, at));
      return cancelled;
    },
  };
}

/** A refusal of its own kind answered with its body (the series' refusals carry their dates). */
export type RefusalAnswer = (err: unknown) => { status: number; body: object } | undefined;

/**
 * Refusals carry their reason code (and the time in the way); `others` answer refusals of their own kind (one
 * error handler per plugin: the routes of another house answer bookings' and series' refusals both);
 * everything else goes to the API's handler.
 */
export function answerRefusals(app: FastifyInstance, ...others: RefusalAnswer[]): void {
  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof Refused) {
      return reply.code(err.statusCode).send({
        ...errorBody(err.statusCode, err.message),
        reason: err.reason,
        ...(err.conflict ? { conflict: { start: iso(err.conflict.start), end: iso(err.conflict.end) } } : {}),
      });
    }
    for (const answer of others) {
      const answered = answer(err);
      if (answered) return reply.code(answered.status).send(answered.body);
    }
    throw err;
  });
}

export const bookingRoutes: FastifyPluginAsyncTypebox<BookingRoutesOptions> = async (app, options) => {
  const { site } = options;
  const { store, tokens } = options;
  const now = options.now ?? Date.now;
  const policy = options.policy ?? DEFAULT_POLICY;
  const house = houseBookings({
    site,
    installationHome: options.installationHome ?? site.site.id,
    store,
    policy,
    now,
    events: options.events,
  });
  const out = house.out;
  const asker = (member: Member): Asker => ({ member, staff: isStaff(member) });

  answerRefusals(app);

  app.get(
    '/api/spaces',
    {
      config: { access: ANY_MEMBER, tokenScope: 'spaces:read' },
      schema: {
        tags: ['bookings'],
        summary:
          'The spaces that can be booked, and the site they are in (opening hours are in its time zone)',
        response: {
          200: Type.Object({
            site: Type.Object({ id: Type.String(), name: Type.String(), timezone: Type.String() }),
            spaces: Type.Array(SpaceOut),
          }),
          401: ErrorBody,
        },
      },
    },
    async (request) => ({
      site: { id: site.site.id, name: site.site.name, timezone: site.site.timezone },
      // A member of another house (a guest here): the kinds this house opens to theirs.
      spaces: house.spaces(request.member ?? null),
    }),
  );

  app.get(
    '/api/spaces/:id/availability',
    {
      // An integration (a heating flow) asks whether a room is booked: the busy times with their booking ids,
      // as the event feed names bookings, never whose they are.
      config: { access: ANY_MEMBER, tokenScope: 'bookings:read' },
      schema: {
        tags: ['bookings'],
        summary: 'Busy and free times of a space (busy times name nobody)',
        params: Type.Object({ id: SiteId }),
        querystring: Type.Object({ from: Type.Optional(Query), to: Type.Optional(Query) }),
        response: {
          200: AvailabilityOut,
          400: ErrorBody,
          401: ErrorBody,
          403: Refusal,
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      // A member, or an integration token the auth hook let in with bookings:read.
      const member = request.integration ? null : signedIn(request.member);
      return house.availability(member ? asker(member) : null, request.params.id, request.query);
    },
  );

  app.post(
    '/api/bookings',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary: 'Book a space: 201, or 409 when the time is taken, or 4xx with the rule broken',
        body: NewBookingBody,
        response: {
          201: BookingOut,
          400: Refusal,
          401: ErrorBody,
          404: ErrorBody,
          409: Refusal,
          422: Refusal,
        },
      },
    },
    async (request, reply) => {
      const booking = await house.book(asker(signedIn(request.member)), request.body);
      return reply.code(201).send(out(booking));
    },
  );

  app.get(
    '/api/bookings',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary: "Bookings: a member's own; staff see everyone's unless mine=1",
        querystring: Type.Object({
          mine: Type.Optional(Type.String({ maxLength: 5, description: '1: only my own' })),
          from: Type.Optional(Query),
          to: Type.Optional(Query),
        }),
        response: { 200: Type.Object({ bookings: Type.Array(BookingOut) }), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const member = signedIn(request.member);
      const t = now();
      const range = queryRange(request.query.from ?? String(t - DAY_MS), request.query.to, t, MAX_RANGE_MS);
      const mineOnly = !isStaff(member) || ['1', 'true', 'yes'].includes(request.query.mine ?? '');
      const bookings = await (mineOnly ? store.listMine(member.id, range) : store.listAll(range));
      return { bookings: bookings.map(out) };
    },
  );

  app.delete(
    '/api/bookings/:id',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary: 'Cancel a booking (your own; staff any)',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: BookingOut, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      return out(await house.cancel(asker(signedIn(request.member)), request.params.id));
    },
  );

  const calendarOf = async (memberId: string) => {
    const t = now();
    const range = { start: t - CALENDAR_PAST_MS, end: t + CALENDAR_AHEAD_MS };
    const bookings = await store.listMine(memberId, range);
    const seriesIds = bookings.flatMap((b) => (b.seriesId ? [b.seriesId] : []));
    const elsewhere = await Promise.all(
      (options.elsewhere ?? []).map(async (house) => ({
        site: house.site,
        bookings: await house.store.listMine(memberId, range),
      })),
    );
    return bookingsCalendar(site, bookings, t, await store.seriesByIds(seriesIds), elsewhere);
  };
  const calendarResponse = { 200: Type.String({ description: 'text/calendar (RFC 5545)' }) };

  app.get(
    '/api/me/calendar.ics',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary: 'My bookings as iCalendar',
        produces: ['text/calendar'],
        response: { ...calendarResponse, 401: ErrorBody },
      },
    },
    async (request, reply) => {
      const member = signedIn(request.member);
      return reply
        .type('text/calendar; charset=utf-8')
        .header('cache-control', 'private, no-store')
        .send(await calendarOf(member.id));
    },
  );

  app.get(
    '/api/me/calendar-token',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary: 'Whether my calendar subscription link is active (the token itself is shown only once)',
        response: {
          200: Type.Object({ active: Type.Boolean(), issuedAt: Type.Union([Instant, Type.Null()]) }),
          401: ErrorBody,
        },
      },
    },
    async (request) => {
      const issued = await tokens.issuedAt(signedIn(request.member).id);
      return { active: issued !== undefined, issuedAt: issued === undefined ? null : iso(issued) };
    },
  );

  app.post(
    '/api/me/calendar-token',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary: 'A new calendar subscription link for phones; any earlier link stops working',
        response: {
          201: Type.Object({
            token: Type.String(),
            path: Type.String({ description: 'subscribe to this path on this server' }),
            issuedAt: Instant,
          }),
          401: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const at = now();
      const token = await tokens.issue(signedIn(request.member).id, at);
      return reply.code(201).send({ token, path: `/api/calendar/${token}.ics`, issuedAt: iso(at) });
    },
  );

  app.delete(
    '/api/me/calendar-token',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary: 'Revoke my calendar subscription link',
        response: { 204: Type.Null(), 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      if (!(await tokens.revoke(signedIn(request.member).id)))
        throw new ApiError(404, 'no calendar link to revoke');
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/calendar/:token.ics',
    {
      // Calendar apps send no cookie: the secret token in the path is the credential, checked here.
      config: { access: 'public' },
      // The URL is a credential: keep it out of the request log (written at info).
      logLevel: 'warn',
      schema: {
        tags: ['bookings'],
        summary: "A member's bookings as iCalendar, by their secret calendar token",
        params: Type.Object({ token: Type.String() }),
        produces: ['text/calendar'],
        response: { ...calendarResponse, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const memberId = request.params.token.match(CALENDAR_TOKEN_PATTERN)
        ? await tokens.memberFor(request.params.token)
        : undefined;
      // One answer for malformed, unknown and revoked tokens: nothing to learn by trying.
      if (!memberId) throw new ApiError(404, 'no such calendar');
      return reply
        .type('text/calendar; charset=utf-8')
        .header('cache-control', 'private, no-store')
        .header('referrer-policy', 'no-referrer')
        .send(await calendarOf(memberId));
    },
  );
};

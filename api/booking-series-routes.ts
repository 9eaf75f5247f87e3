import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import { ANY_MEMBER, guestVisit, type Member, openToGuests, STAFF } from '../access/roles.ts';
import { bookingEvent } from '../bookings/booking-events.ts';
import {
  BOOKING_REFUSALS,
  type BookingPolicy,
  type BookingRefusalCode,
  checkBookingRequest,
  DEFAULT_POLICY,
  type Interval,
  isBookable,
} from '../bookings/booking-rules.ts';
import type {
  Booking,
  BookingSeries,
  BookingSeriesStore,
  BookingStore,
  Replacing,
} from '../bookings/booking-store.ts';
import {
  checkSeriesDates,
  type DateConflict,
  expandSeries,
  type Occurrence,
  planSeries,
  planSeriesChange,
  type RefusedDate,
  SERIES_REFUSALS,
  type SeriesPattern,
  type SeriesRefusalCode,
  type SeriesRequest,
  seriesEndingBefore,
} from '../bookings/series-rules.ts';
import type { EventAnnouncer } from '../building/events.ts';
import { calendarFieldsExist, type LocalDate } from '../site/local-time.ts';
import type { SiteConfig, SpaceConfig } from '../site/site.ts';
import {
  type Asker,
  answerRefusals,
  type BookingHouse,
  type RefusalAnswer,
  signedIn,
} from './booking-routes.ts';
import { SiteId } from './context.ts';
import { ApiError, ErrorBody, errorBody } from './errors.ts';
import { parseInstant } from './time-range.ts';

/**
 * Recurring bookings: a preview of a series' dates with the ones taken and the ones the rules refuse, saving
 * it (the caller chooses: refuse the whole series on a conflict, or skip the taken dates and list them),
 * reading it, ending it from a date on, changing it from a date on (split: the old rule ends before the date,
 * a new series starts on its day; previewed like a new series), and moving one date. Cancelling one date is
 * DELETE /api/bookings/:id.
 * Opening hours bind members; staff (facility, admin) may book outside them (evening events).
 */

export interface BookingSeriesRoutesOptions {
  site: SiteConfig;
  /**
   * In a network: the site of members who name no home (the installation's first); default this site. A
   * member whose home is another site books here as a guest, by this site file's `guests`.
   */
  installationHome?: string;
  /** The bookings and their series (a series' dates are bookings: one database keeps both). */
  store: BookingStore & BookingSeriesStore;
  policy?: BookingPolicy;
  now?: () => number;
  /**
   * Where the bookings a series makes (`booking-made`), ends (`booking-cancelled`) and a move (`booking-moved`)
   * are told: the building feed. Without one they are not.
   */
  events?: EventAnnouncer;
}

/** A series' dates that are still on: a cancellation ends these. */
const ON: readonly Booking['status'][] = ['booked', 'checked_in'];

const Instant = Type.String({ format: 'date-time', description: 'ISO 8601 date-time (UTC)' });
const LocalDay = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD, site time' });
const LocalClock = Type.String({
  pattern: '^([01]\\d|2[0-3]):[0-5]\\d$|^24:00$',
  description: 'HH:MM, site time',
});
const OccurrenceText = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}$',
  description: "a date's local start as the series gives it (YYYY-MM-DDTHH:MM)",
});

const SeriesBody = Type.Object(
  {
    spaceId: SiteId,
    firstDate: LocalDay,
    start: LocalClock,
    end: LocalClock,
    every: Type.Union([Type.Literal('week'), Type.Literal('month')]),
    interval: Type.Optional(Type.Integer({ minimum: 1, maximum: 8, description: 'every n weeks (week)' })),
    ordinal: Type.Optional(
      Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(3), Type.Literal(4), Type.Literal(-1)], {
        description: 'month: the 1st … 4th or last (-1) weekday',
      }),
    ),
    weekday: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 7, description: 'month: 1 Monday … 7 Sunday' }),
    ),
    until: Type.Optional(LocalDay),
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
type SeriesBody = Static<typeof SeriesBody>;

const SaveBody = Type.Object(
  {
    ...SeriesBody.properties,
    onConflict: Type.Union([Type.Literal('refuse'), Type.Literal('skip')], {
      description:
        'refuse: nothing is saved if any date is taken; skip: the taken dates are left out and listed',
    }),
  },
  { additionalProperties: false },
);

const ChangeBody = Type.Object(
  {
    ...SeriesBody.properties,
    /** The date of the series changed from; firstDate is its day or later. */
    from: OccurrenceText,
  },
  { additionalProperties: false },
);
type ChangeBody = Static<typeof ChangeBody>;

const SaveChangeBody = Type.Object(
  { ...ChangeBody.properties, onConflict: SaveBody.properties.onConflict },
  { additionalProperties: false },
);

const DateOut = Type.Object({
  occurrence: OccurrenceText,
  start: Instant,
  end: Instant,
  state: Type.Union([Type.Literal('free'), Type.Literal('taken'), Type.Literal('refused')]),
  reason: Type.Optional(Type.String({ description: `refused: ${Object.keys(BOOKING_REFUSALS).join(', ')}` })),
  message: Type.Optional(Type.String()),
  conflict: Type.Optional(
    Type.Object({ start: Instant, end: Instant }, { description: 'the time in the way' }),
  ),
});
type DateOut = Static<typeof DateOut>;

const RuleOut = {
  rrule: Type.String({ description: 'RFC 5545 RRULE value' }),
  firstStart: OccurrenceText,
  timeZone: Type.String(),
  durationMinutes: Type.Integer(),
};

const SeriesBookingOut = Type.Object({
  id: Type.String(),
  occurrence: Type.Union([OccurrenceText, Type.Null()]),
  start: Instant,
  end: Instant,
  status: Type.String(),
});

const SeriesOut = Type.Object({
  id: Type.String(),
  memberId: Type.String(),
  spaceId: Type.String(),
  ...RuleOut,
  createdAt: Instant,
  cancelledAt: Type.Union([Instant, Type.Null()]),
  bookings: Type.Array(SeriesBookingOut),
});

const SeriesRefusal = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
  reason: Type.Optional(Type.String()),
  dates: Type.Optional(Type.Array(DateOut, { description: 'the dates refused or taken' })),
  visitors: Type.Optional(
    Type.Array(OccurrenceText, { description: 'visitors_signed_up: the dates visitors hold places on' }),
  ),
  conflict: Type.Optional(Type.Object({ start: Instant, end: Instant })),
});

const iso = (ms: number) => new Date(ms).toISOString();
const isStaff = (member: Member) => STAFF.includes(member.role);

class SeriesRefused extends ApiError {
  constructor(
    status: number,
    readonly reason: SeriesRefusalCode | BookingRefusalCode | 'visitors_signed_up',
    message: string,
    readonly dates: DateOut[] = [],
    readonly conflict?: Interval,
    readonly visitors: string[] = [],
  ) {
    super(status, message);
  }
}

function localDay(text: string, field: string): LocalDate {
  if (!calendarFieldsExist(text))
    throw new SeriesRefused(400, 'invalid_series', `${field} "${text}" is not a day that exists`);
  const [year, month, day] = text.split('-').map(Number) as [number, number, number];
  return { year, month, day };
}

function clockMinute(text: string): number {
  const [h, m] = text.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

/** The body in the rules' terms; a missing or doubled field is a 400 that says which. */
function seriesRequest(body: SeriesBody): SeriesRequest {
  const startMinute = clockMinute(body.start);
  const endMinute = clockMinute(body.end);
  if (endMinute <= startMinute)
    throw new SeriesRefused(400, 'invalid_series', 'the end must be after the start, on the same day');
  let pattern: SeriesPattern;
  if (body.every === 'week') pattern = { every: 'week', interval: body.interval ?? 1 };
  else {
    if (body.ordinal === undefined || body.weekday === undefined)
      throw new SeriesRefused(400, 'invalid_series', 'a monthly series needs ordinal and weekday');
    pattern = { every: 'month', ordinal: body.ordinal, weekday: body.weekday };
  }
  if ((body.until === undefined) === (body.count === undefined))
    throw new SeriesRefused(
      400,
      'invalid_series',
      'give either until (a last date) or count (how many dates)',
    );
  return {
    firstDate: localDay(body.firstDate, 'firstDate'),
    startMinute,
    durationMinutes: endMinute - startMinute,
    pattern,
    end:
      body.until !== undefined ? { until: localDay(body.until, 'until') } : { count: body.count as number },
  };
}

const dateOut = (o: Occurrence): DateOut => ({
  occurrence: o.local,
  start: iso(o.start),
  end: iso(o.end),
  state: 'free',
});

/** The answer of a series' refusal: its reason, and the dates, visitors or time in the way. */
export const seriesRefusalAnswer: RefusalAnswer = (err) =>
  err instanceof SeriesRefused
    ? {
        status: err.statusCode,
        body: {
          ...errorBody(err.statusCode, err.message),
          reason: err.reason,
          ...(err.dates.length > 0 ? { dates: err.dates } : {}),
          ...(err.visitors.length > 0 ? { visitors: err.visitors } : {}),
          ...(err.conflict
            ? { conflict: { start: iso(err.conflict.start), end: iso(err.conflict.end) } }
            : {}),
        },
      }
    : undefined;

const GivenUp = Type.Array(
  Type.Object({
    id: Type.String(),
    occurrence: Type.Union([OccurrenceText, Type.Null()]),
    start: Instant,
    end: Instant,
  }),
  { description: "the old series' dates from the date on that the change cancels" },
);

const MoveBody = Type.Object(
  {
    start: Type.String({ maxLength: 40, description: 'ISO 8601 with offset' }),
    end: Type.String({ maxLength: 40 }),
  },
  { additionalProperties: false },
);

/**
 * The bodies and answers of the series routes and the move, written once for this house's routes
 * (`/api/booking-series…`, `PATCH /api/bookings/:id`) and another house's (`/api/houses/:site/…`, where a 404
 * may also say the house is not in the network).
 */
export const SERIES_SCHEMAS = {
  preview: {
    body: SeriesBody,
    response: {
      200: Type.Object({ ...RuleOut, dates: Type.Array(DateOut) }),
      400: SeriesRefusal,
      401: ErrorBody,
      403: SeriesRefusal,
      404: ErrorBody,
      422: SeriesRefusal,
    },
  },
  save: {
    body: SaveBody,
    response: {
      201: Type.Object({ series: SeriesOut, skipped: Type.Array(DateOut) }),
      400: SeriesRefusal,
      401: ErrorBody,
      403: SeriesRefusal,
      404: ErrorBody,
      409: SeriesRefusal,
      422: SeriesRefusal,
    },
  },
  get: { response: { 200: SeriesOut, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody } },
  end: {
    querystring: Type.Object({ from: Type.Optional(OccurrenceText) }),
    response: {
      200: Type.Object({ cancelled: Type.Integer(), series: SeriesOut }),
      400: ErrorBody,
      401: ErrorBody,
      404: ErrorBody,
      409: ErrorBody,
    },
  },
  changePreview: {
    body: ChangeBody,
    response: {
      200: Type.Object({
        ...RuleOut,
        from: OccurrenceText,
        ending: Type.Union([Type.String({ description: "the old series' RRULE from now on" }), Type.Null()]),
        givenUp: GivenUp,
        visitors: Type.Array(OccurrenceText, { description: 'given-up dates visitors hold places on' }),
        dates: Type.Array(DateOut),
      }),
      400: SeriesRefusal,
      401: ErrorBody,
      403: SeriesRefusal,
      404: SeriesRefusal,
      409: ErrorBody,
      422: SeriesRefusal,
    },
  },
  change: {
    body: SaveChangeBody,
    response: {
      201: Type.Object({
        ended: SeriesOut,
        series: SeriesOut,
        cancelled: GivenUp,
        skipped: Type.Array(DateOut),
        events: Type.Array(
          Type.Object(
            { from: Type.String(), to: Type.String() },
            { description: 'an event of the old series and the one carrying its dates from the change on' },
          ),
        ),
      }),
      400: SeriesRefusal,
      401: ErrorBody,
      403: SeriesRefusal,
      404: SeriesRefusal,
      409: SeriesRefusal,
      422: SeriesRefusal,
    },
  },
  move: {
    body: MoveBody,
    response: {
      200: SeriesBookingOut,
      400: SeriesRefusal,
      401: ErrorBody,
      403: SeriesRefusal,
      404: ErrorBody,
      409: SeriesRefusal,
      422: SeriesRefusal,
    },
  },
} as const;

/** One house's bookings and their series (a series' dates are bookings: one database keeps both). */
export interface SeriesHouse extends BookingHouse {
  store: BookingStore & BookingSeriesStore;
}

/**
 * The answers of the series routes and the move for one house, on that house's site file (spaces, time zone
 * for the RRULE's wall clock, opening hours, `guests`) and its own bookings and series. This house's routes
 * and those of the network's other houses (api/house-routes.ts) answer through the same functions; the asker
 * is staff by their role in this house.
 */
export function houseSeries(house: SeriesHouse) {
  const { site, store, policy, now, installationHome } = house;
  const timeZone = site.site.timezone;
  const spaces = new Map(site.spaces.map((s) => [s.id, s]));
  const guestOf = (member: Member) =>
    guestVisit(member, { id: site.site.id, guests: site.guests }, installationHome);
  const announce = (type: Parameters<typeof bookingEvent>[0], booking: Booking, at: number) =>
    house.events?.announce(bookingEvent(type, site.site.id, booking, at));

  const bookableSpace = (id: string): SpaceConfig => {
    const space = spaces.get(id);
    if (!space || !isBookable(space)) throw new ApiError(404, `no bookable space "${id}"`);
    return space;
  };

  /** A guest asking for a kind this house does not open to their home: 403 before any date is judged. */
  const openTo = (member: Member, space: SpaceConfig) => {
    const guest = guestOf(member);
    if (guest && !openToGuests(guest.rules, guest.from, space.kind))
      throw new SeriesRefused(
        403,
        'not_open_to_guests',
        `${site.site.name} does not open a ${space.kind} to members of ${guest.from}`,
      );
  };

  /**
   * Each date judged: refused by the rules, taken, or free. `replacing`: the dates a change gives up are not
   * in the way.
   */
  const judgeDates = async (
    asker: Asker,
    space: SpaceConfig,
    occurrences: readonly Occurrence[],
    at: number,
    replacing?: Replacing,
  ): Promise<DateOut[]> => {
    const refused = checkSeriesDates(space, occurrences, at, timeZone, {
      policy,
      openingHoursBind: !asker.staff,
      guest: guestOf(asker.member),
    });
    const conflicts = await store.seriesConflicts(space.id, occurrences, replacing);
    const refusedAt = new Map<string, RefusedDate>(refused.map((r) => [r.occurrence.local, r]));
    const takenAt = new Map<string, DateConflict>(conflicts.map((c) => [c.occurrence.local, c]));
    return occurrences.map((o): DateOut => {
      const no = refusedAt.get(o.local);
      if (no) return { ...dateOut(o), state: 'refused', reason: no.reason, message: no.message };
      const taken = takenAt.get(o.local);
      if (taken)
        return {
          ...dateOut(o),
          state: 'taken',
          conflict: { start: iso(taken.conflict.start), end: iso(taken.conflict.end) },
        };
      return dateOut(o);
    });
  };

  /** The series planned and each date judged. */
  const judge = async (asker: Asker, body: SeriesBody) => {
    const space = bookableSpace(body.spaceId);
    openTo(asker.member, space);
    const verdict = planSeries(seriesRequest(body), timeZone);
    if (!verdict.ok)
      throw new SeriesRefused(SERIES_REFUSALS[verdict.reason].status, verdict.reason, verdict.message);
    const at = now();
    const dates = await judgeDates(asker, space, verdict.occurrences, at);
    return { space, verdict, dates, at };
  };

  /** The answer when the rules refuse any date of a series to be saved (422; 403 for a guest's kind). */
  const refuseRuledOut = (dates: readonly DateOut[]) => {
    const refused = dates.filter((d) => d.state === 'refused');
    if (refused.length === 0) return;
    const first = refused[0] as DateOut;
    const reason = first.reason as BookingRefusalCode;
    throw new SeriesRefused(
      reason === 'not_open_to_guests' ? 403 : 422,
      reason,
      `${refused.length} date(s) of the series cannot be booked; first ${first.occurrence}: ${first.message}`,
      refused,
    );
  };

  const takenOut = (conflicts: readonly DateConflict[]): DateOut[] =>
    conflicts.map((c) => ({
      ...dateOut(c.occurrence),
      state: 'taken' as const,
      conflict: { start: iso(c.conflict.start), end: iso(c.conflict.end) },
    }));

  const seriesOut = (series: BookingSeries, bookings: readonly Booking[]) => ({
    id: series.id,
    memberId: series.memberId,
    spaceId: series.spaceId,
    rrule: series.rrule,
    firstStart: series.firstStart,
    timeZone: series.timeZone,
    durationMinutes: series.durationMinutes,
    createdAt: iso(series.createdAt),
    cancelledAt: series.cancelledAt === null ? null : iso(series.cancelledAt),
    bookings: bookings.map((b) => ({
      id: b.id,
      occurrence: b.occurrence ?? null,
      start: iso(b.start),
      end: iso(b.end),
      status: b.status,
    })),
  });

  /** A member's own series, or any for this house's staff; someone else's answers 404 like one that does not exist. */
  const visibleSeries = async (asker: Asker, id: string): Promise<BookingSeries> => {
    const series = await store.getSeries(id);
    if (!series || (!asker.staff && series.memberId !== asker.member.id))
      throw new ApiError(404, `no booking series "${id}"`);
    return series;
  };

  /**
   * A change from a date on, planned and judged: the series (its owner's, or any for staff), the split, the
   * new dates judged with the old ones from then on given up, and the dates visitors hold places on.
   */
  const judgeChange = async (asker: Asker, id: string, body: ChangeBody) => {
    const series = await visibleSeries(asker, id);
    if (series.cancelledAt !== null) throw new ApiError(409, 'the series is cancelled: book a new one');
    const { from, ...request } = body;
    const space = bookableSpace(request.spaceId);
    openTo(asker.member, space);
    const change = planSeriesChange(series, from, seriesRequest(request), timeZone);
    if (!change.ok)
      throw new SeriesRefused(SERIES_REFUSALS[change.reason].status, change.reason, change.message);
    const at = now();
    // Changing a date already begun would rewrite a date that took place.
    if (change.from.start < at)
      throw new ApiError(409, `the date ${from} has already begun; change the series from a later one`);
    const dates = await judgeDates(asker, space, change.occurrences, at, {
      seriesId: series.id,
      fromOccurrence: from,
    });
    return { series, space, change, dates, at };
  };

  const givenUpOut = (bookings: readonly Booking[]) =>
    bookings.map((b) => ({
      id: b.id,
      occurrence: b.occurrence ?? null,
      start: iso(b.start),
      end: iso(b.end),
    }));

  const by = (asker: Asker) => ({ memberId: asker.member.id, staff: asker.staff });

  return {
    site,

    /** A series' dates before saving: free, taken or refused. */
    async preview(asker: Asker, body: SeriesBody) {
      const { verdict, dates } = await judge(asker, body);
      return { ...verdict.rule, dates };
    },

    /** Books a series, all or nothing or skipping the taken dates; each date booked is told. */
    async save(asker: Asker, body: Static<typeof SaveBody>) {
      const { onConflict, ...request } = body;
      const { space, verdict, dates, at } = await judge(asker, request);
      refuseRuledOut(dates);
      // The store checks the conflicts again inside its transaction: the preview's answer may be stale.
      const result = await store.createSeries(
        {
          memberId: asker.member.id,
          spaceId: space.id,
          rule: verdict.rule,
          occurrences: verdict.occurrences,
        },
        onConflict === 'skip' ? 'skip_conflicts' : 'all_or_nothing',
        at,
      );
      if (!result.ok) {
        const taken = takenOut(result.conflicts);
        throw new SeriesRefused(
          409,
          'slot_taken',
          taken.length === verdict.occurrences.length
            ? 'every date of the series is taken: nothing was saved'
            : `${taken.length} date(s) of the series are taken: nothing was saved (onConflict "skip" books the others)`,
          taken,
        );
      }
      for (const booking of result.bookings) announce('booking-made', booking, at);
      return { series: seriesOut(result.series, result.bookings), skipped: takenOut(result.skipped) };
    },

    /** A series and its dates (the asker's own; this house's staff any). */
    async get(asker: Asker, id: string) {
      const series = await visibleSeries(asker, id);
      return seriesOut(series, await store.seriesBookings(series.id));
    },

    /** Ends a series from a date on (default its next date not yet begun); each date cancelled is told. */
    async end(asker: Asker, id: string, fromText: string | undefined) {
      const series = await visibleSeries(asker, id);
      const at = now();
      const dates = expandSeries(series);
      const from = fromText ?? dates.find((o) => o.start >= at)?.local;
      const date = dates.find((o) => o.local === from);
      if (!from || !date) throw new ApiError(404, `the series has no date ${from ?? 'still to come'}`);
      // Ending a series before a date already begun would drop dates that took place from its rule.
      if (date.start < at)
        throw new ApiError(409, `the date ${from} has already begun; end the series from a later one`);
      // The dates still on before, to tell each one the cancellation ends (the store answers a count).
      const on = new Set(
        (await store.seriesBookings(series.id)).filter((b) => ON.includes(b.status)).map((b) => b.id),
      );
      const result = await store.cancelSeriesFrom(
        series.id,
        from,
        seriesEndingBefore(series, from),
        by(asker),
        at,
      );
      if (result.outcome === 'not_found' || !result.series)
        throw new ApiError(404, `no booking series "${series.id}"`);
      const after = await store.seriesBookings(series.id);
      for (const booking of after)
        if (on.has(booking.id) && booking.status === 'cancelled') announce('booking-cancelled', booking, at);
      return { cancelled: result.cancelled, series: seriesOut(result.series, after) };
    },

    /** A change from a date on before saving: the old rule's end, the dates given up, the new dates judged. */
    async previewChange(asker: Asker, id: string, body: ChangeBody) {
      const { series, change, dates, at } = await judgeChange(asker, id, body);
      const from = body.from;
      const givenUp = (await store.seriesBookings(series.id)).filter(
        (b) => b.occurrence && b.occurrence >= from && ON.includes(b.status) && b.end > at,
      );
      return {
        ...change.rule,
        from,
        ending: change.ending?.rrule ?? null,
        givenUp: givenUpOut(givenUp),
        visitors: await store.visitorsFrom(series.id, from),
        dates,
      };
    },

    /** Changes a series from a date on in one transaction (split); each date cancelled and booked is told. */
    async change(asker: Asker, id: string, body: Static<typeof SaveChangeBody>) {
      const { onConflict, ...request } = body;
      const { series, space, change, dates, at } = await judgeChange(asker, id, request);
      refuseRuledOut(dates);
      // The store judges the conflicts and the visitors again inside its transaction.
      const result = await store.changeSeriesFrom(
        {
          seriesId: series.id,
          fromOccurrence: request.from,
          ending: change.ending,
          spaceId: space.id,
          rule: change.rule,
          occurrences: change.occurrences,
        },
        onConflict === 'skip' ? 'skip_conflicts' : 'all_or_nothing',
        by(asker),
        at,
      );
      if (!result.ok) {
        if (result.reason === 'not_found') throw new ApiError(404, `no booking series "${series.id}"`);
        if (result.reason === 'visitors_signed_up')
          throw new SeriesRefused(
            409,
            'visitors_signed_up',
            `visitors are signed up for ${result.occurrences.length} date(s) the change would cancel: nothing was changed`,
            [],
            undefined,
            result.occurrences,
          );
        const taken = takenOut(result.conflicts);
        throw new SeriesRefused(
          409,
          'slot_taken',
          taken.length === change.occurrences.length
            ? 'every date of the changed series is taken: nothing was changed'
            : `${taken.length} date(s) of the changed series are taken: nothing was changed (onConflict "skip" books the others)`,
          taken,
        );
      }
      for (const booking of result.cancelled) announce('booking-cancelled', booking, at);
      for (const booking of result.bookings) announce('booking-made', booking, at);
      return {
        ended: seriesOut(result.ended, await store.seriesBookings(result.ended.id)),
        series: seriesOut(result.series, result.bookings),
        cancelled: givenUpOut(result.cancelled),
        skipped: takenOut(result.skipped),
        events: result.events,
      };
    },

    /** Moves a booking (the asker's own; this house's staff any) to another time in its space, by the rules. */
    async move(asker: Asker, id: string, body: Static<typeof MoveBody>) {
      const { member, staff } = asker;
      const booking = await store.get(id);
      const parse = (text: string, field: string) => {
        const parsed = parseInstant(text);
        if (!parsed.ok || !/[zZ]|[+-]\d{2}:?\d{2}$/.test(text))
          throw new SeriesRefused(400, 'invalid_time', `${field}: ${BOOKING_REFUSALS.invalid_time.text}`);
        return parsed.value;
      };
      const to = { start: parse(body.start, 'start'), end: parse(body.end, 'end') };
      const space = booking ? spaces.get(booking.spaceId) : undefined;
      if (!booking || !space || (!staff && booking.memberId !== member.id))
        throw new ApiError(404, `no booking "${id}"`);
      const at = now();
      const guest = guestOf(member);
      const verdict = checkBookingRequest(space, to, at, timeZone, policy, {
        openingHoursBind: !staff,
        ...(guest ? { guest } : {}),
      });
      if (!verdict.ok)
        throw new SeriesRefused(BOOKING_REFUSALS[verdict.reason].status, verdict.reason, verdict.message);
      const result = await store.moveBooking(booking.id, to, by(asker), at);
      if (result.ok) {
        house.events?.announce(
          bookingEvent('booking-moved', site.site.id, result.booking, at, {
            start: booking.start,
            end: booking.end,
          }),
        );
        return {
          id: result.booking.id,
          occurrence: result.booking.occurrence ?? null,
          start: iso(result.booking.start),
          end: iso(result.booking.end),
          status: result.booking.status,
        };
      }
      if (result.reason === 'not_found') throw new ApiError(404, `no booking "${booking.id}"`);
      if (result.reason === 'already_ended')
        throw new ApiError(409, 'this booking has already ended, was cancelled or was released');
      throw new SeriesRefused(409, 'slot_taken', BOOKING_REFUSALS.slot_taken.text, [], result.conflict);
    },
  };
}

const SeriesId = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const bookingSeriesRoutes: FastifyPluginAsyncTypebox<BookingSeriesRoutesOptions> = async (
  app,
  options,
) => {
  const { site } = options;
  const house = houseSeries({
    site,
    installationHome: options.installationHome ?? site.site.id,
    store: options.store,
    policy: options.policy ?? DEFAULT_POLICY,
    now: options.now ?? Date.now,
    events: options.events,
  });
  // This API's own routes: staff by the role as this house sees the member.
  const asker = (member: Member | null): Asker => {
    const who = signedIn(member);
    return { member: who, staff: isStaff(who) };
  };

  answerRefusals(app, seriesRefusalAnswer);

  app.post(
    '/api/booking-series/preview',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary:
          "A series' dates before saving: free, taken (with the time in the way) or refused (with why)",
        ...SERIES_SCHEMAS.preview,
      },
    },
    async (request) => house.preview(asker(request.member), request.body),
  );

  app.post(
    '/api/booking-series',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary:
          'Book a series: 201 with the dates booked and the ones skipped; 422 if the rules refuse a date; 409 if a date is taken and onConflict is refuse',
        ...SERIES_SCHEMAS.save,
      },
    },
    async (request, reply) => reply.code(201).send(await house.save(asker(request.member), request.body)),
  );

  app.get(
    '/api/booking-series/:id',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary: 'A series and its dates (your own; staff any)',
        params: SeriesId,
        ...SERIES_SCHEMAS.get,
      },
    },
    async (request) => house.get(asker(request.member), request.params.id),
  );

  app.delete(
    '/api/booking-series/:id',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary:
          'End a series from a date on (default: its next date not yet begun): those dates are cancelled, the rule ends before it',
        params: SeriesId,
        ...SERIES_SCHEMAS.end,
      },
    },
    async (request) => house.end(asker(request.member), request.params.id, request.query.from),
  );

  app.post(
    '/api/booking-series/:id/change/preview',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary:
          "A change of a series from a date on, before saving: the old rule's end, the dates it gives up, the new dates (free, taken or refused) and the dates visitors signed up for",
        params: SeriesId,
        ...SERIES_SCHEMAS.changePreview,
      },
    },
    async (request) => house.previewChange(asker(request.member), request.params.id, request.body),
  );

  app.post(
    '/api/booking-series/:id/change',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary:
          'Change a series from a date on, in one transaction: its dates from then on are cancelled, its rule ends before the date, and a new series is booked from that day on (201); 422 if the rules refuse a new date; 409 if a date is taken and onConflict is refuse, or visitors are signed up for a date given up: then nothing changes',
        params: SeriesId,
        ...SERIES_SCHEMAS.change,
      },
    },
    async (request, reply) =>
      reply.code(201).send(await house.change(asker(request.member), request.params.id, request.body)),
  );

  app.patch(
    '/api/bookings/:id',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['bookings'],
        summary:
          'Move a booking (one date of a series) to another time in the same space, by the booking rules',
        params: SeriesId,
        ...SERIES_SCHEMAS.move,
      },
    },
    async (request) => house.move(asker(request.member), request.params.id, request.body),
  );
};

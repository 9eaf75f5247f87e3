import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { AuditLog } from '../access/audit-log.ts';
import { ANY_MEMBER, type Member } from '../access/roles.ts';
import type { EventStore } from '../events/event-store.ts';
import {
  attendanceOpen,
  checkAttendance,
  checkSignUp,
  MAX_PLACES,
  signUpOpen,
} from '../events/signup-rules.ts';
import type { DateCounts, SignUpStore } from '../events/signup-store.ts';
import { ApiError, ErrorBody } from './errors.ts';
import type { Houses } from './houses.ts';

/**
 * Sign-ups for public events. Visitors need no account: they take places on one date with an e-mail address
 * or without one and get a cancel token, which lives only in their link (`/events#cancel=…`: a fragment never
 * reaches a server or a log) and in the bodies of the two routes that read it. These routes are public on
 * purpose, so each is rate-limited per address and validated strictly. The audit log records each sign-up and
 * cancellation without the visitor: no address, no IP. The organiser (or staff) sees a date's counts and
 * enters how many came.
 */

export interface PublicRateLimit {
  max: number;
  timeWindowMs: number;
}

/** Per address: enough for a family signing up one by one, not for a script. */
export const DEFAULT_PUBLIC_RATE_LIMIT: PublicRateLimit = { max: 20, timeWindowMs: 60_000 };

export interface EventSignUpRoutesOptions {
  /**
   * The network's houses (this one among them), the installation's home site first: a date's room is named
   * from its own house, and its house's staff (not another's) see its counts.
   */
  houses: Houses;
  events: EventStore;
  signUps: SignUpStore;
  audit: AuditLog;
  now?: () => number;
  publicRateLimit?: PublicRateLimit;
}

const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
/** A cancel token: 24 random bytes, base64url. */
export const CancelToken = Type.String({ minLength: 32, maxLength: 32, pattern: '^[A-Za-z0-9_-]{32}$' });
const Instant = Type.String({ format: 'date-time' });
const Status = Type.Union([Type.Literal('confirmed'), Type.Literal('waiting'), Type.Literal('cancelled')]);

const MySignUp = Type.Object({
  status: Status,
  places: Type.Integer(),
  title: Type.String(),
  spaceName: Type.String(),
  start: Instant,
  end: Instant,
});

const CountsOut = Type.Object({
  eventId: Type.String(),
  dateId: Type.String(),
  start: Instant,
  end: Instant,
  capacity: Type.Union([Type.Integer(), Type.Null()]),
  confirmed: Type.Integer({ description: 'places taken' }),
  waiting: Type.Integer({ description: 'places asked for on the waiting list' }),
  signUps: Type.Integer({ description: 'sign-ups made, cancelled ones included' }),
  cancelled: Type.Integer({ description: 'places given back' }),
  attended: Type.Union([Type.Integer(), Type.Null()], { description: "the organiser's count of who came" }),
  purged: Type.Boolean({ description: "the visitors' data of this date is deleted" }),
});

export const eventSignUpRoutes: FastifyPluginAsyncTypebox<EventSignUpRoutesOptions> = async (
  app,
  options,
) => {
  const { houses, events, signUps, audit } = options;
  const now = options.now ?? Date.now;
  const limit = options.publicRateLimit ?? DEFAULT_PUBLIC_RATE_LIMIT;
  const rateLimit = { max: limit.max, timeWindow: limit.timeWindowMs };
  /** A room's name in its house (space ids repeat between houses); a date from before sites: the home's. */
  const spaceNames = new Map(
    houses.all.flatMap(({ site: h }) => h.spaces.map((s) => [`${h.site.id}/${s.id}`, s.name] as const)),
  );
  const dateHouse = (date: { site: string | null }) => date.site ?? houses.installationHome;
  const spaceNameOf = (date: { site: string | null; spaceId: string }) =>
    spaceNames.get(`${dateHouse(date)}/${date.spaceId}`) ?? date.spaceId;
  /** Staff of the date's house. */
  const isStaffFor = (member: Member, date: { site: string | null }) =>
    houses.isStaffIn(member, dateHouse(date));

  /** The visitor's own sign-up, as they see it: never anyone else's, never their address. */
  const mine = async (token: string) => {
    const signUp = await signUps.byToken(token);
    const event = signUp && (await events.get(signUp.eventId));
    const date = signUp && (await events.dateOf(signUp.eventId, signUp.dateId));
    if (!signUp || !event || !date)
      throw new ApiError(404, 'no sign-up with this link (it ended, or was cancelled)');
    return {
      signUp,
      out: {
        status: signUp.status,
        places: signUp.places,
        title: event.title,
        spaceName: spaceNameOf(date),
        start: new Date(date.start).toISOString(),
        end: new Date(date.end).toISOString(),
      },
    };
  };

  app.post(
    '/api/public/events/:eventId/dates/:dateId/signups',
    {
      config: { access: 'public', rateLimit },
      schema: {
        tags: ['events'],
        summary: 'Sign up for a date of a public event (no account): places, and an e-mail address or none',
        description:
          'A place while there is room and nobody waits, else the waiting list (first come, first to move up). The answer carries the cancel token: keep it, it is the only way to cancel. Rate-limited per address.',
        params: Type.Object({ eventId: Id, dateId: Id }),
        body: Type.Object(
          {
            places: Type.Integer({ minimum: 1, maximum: MAX_PLACES }),
            email: Type.Optional(Type.String({ maxLength: 254 })),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ status: Status, places: Type.Integer(), cancelToken: CancelToken }),
          400: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
          429: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const t = now();
      const { eventId, dateId } = request.params;
      const date = await events.dateOf(eventId, dateId);
      // A members-only event answers like one that does not exist.
      if (date?.visibility !== 'public') throw new ApiError(404, 'no such public event date');
      if (!signUpOpen(date, t)) throw new ApiError(409, 'sign-up for this date is closed: it has begun');
      const checked = checkSignUp(request.body);
      if (!checked.ok) throw new ApiError(400, checked.message);
      const result = await signUps.signUp(
        { eventId, dateId, places: checked.places, email: checked.email, capacity: date.capacity },
        t,
      );
      if (!result.ok) throw new ApiError(409, `this event has ${date.capacity} places in all`);
      await audit.record({
        at: t,
        actor: null,
        action: 'event_signup',
        target: eventId,
        decision: 'granted',
        reason: result.signUp.status,
        // Never the visitor: no address, no IP; whether one was given is enough to count.
        detail: { dateId, places: checked.places, withEmail: checked.email !== null },
      });
      return reply.code(201).send({
        status: result.signUp.status,
        places: result.signUp.places,
        cancelToken: result.cancelToken,
      });
    },
  );

  app.post(
    '/api/public/signups/status',
    {
      config: { access: 'public', rateLimit },
      schema: {
        tags: ['events'],
        summary: "A visitor's own sign-up by its cancel token (in the body, never in a URL)",
        body: Type.Object({ token: CancelToken }, { additionalProperties: false }),
        response: { 200: MySignUp, 400: ErrorBody, 404: ErrorBody, 429: ErrorBody },
      },
    },
    async (request) => (await mine(request.body.token)).out,
  );

  app.post(
    '/api/public/signups/cancel',
    {
      config: { access: 'public', rateLimit },
      schema: {
        tags: ['events'],
        summary: 'Cancel a sign-up by its cancel token; the first on the waiting list moves up',
        body: Type.Object({ token: CancelToken }, { additionalProperties: false }),
        response: { 200: MySignUp, 400: ErrorBody, 404: ErrorBody, 429: ErrorBody },
      },
    },
    async (request) => {
      const t = now();
      const { signUp, out } = await mine(request.body.token);
      const event = await events.get(signUp.eventId);
      const result = await signUps.cancel(request.body.token, event?.capacity ?? null, t);
      if (!result) throw new ApiError(404, 'this sign-up was cancelled already');
      await audit.record({
        at: t,
        actor: null,
        action: 'event_signup_cancel',
        target: signUp.eventId,
        decision: 'granted',
        reason: signUp.status,
        detail: {
          dateId: signUp.dateId,
          places: signUp.places,
          movedUp: result.movedUp.length,
          placesMovedUp: result.movedUp.reduce((n, s) => n + s.places, 0),
        },
      });
      return { ...out, status: 'cancelled' as const };
    },
  );

  /** The date of an event the member organises (staff: any), or 404. */
  const organised = async (member: Member | null, eventId: string, dateId: string) => {
    if (!member) throw new ApiError(401, 'sign in first');
    const event = await events.get(eventId);
    const date = event && (await events.dateOf(eventId, dateId));
    if (!event || !date || (!isStaffFor(member, date) && event.organiserId !== member.id))
      throw new ApiError(404, `no date "${dateId}" of an event you organise`);
    return { member, event, date };
  };
  const countsOut = (
    c: DateCounts | undefined,
    date: { start: number; end: number },
    ids: { eventId: string; dateId: string },
    capacity: number | null,
  ) => ({
    eventId: ids.eventId,
    dateId: ids.dateId,
    start: new Date(date.start).toISOString(),
    end: new Date(date.end).toISOString(),
    capacity,
    confirmed: c?.confirmed ?? 0,
    waiting: c?.waiting ?? 0,
    signUps: c?.signUps ?? 0,
    cancelled: c?.cancelled ?? 0,
    attended: c?.attended ?? null,
    purged: c?.purged ?? false,
  });

  app.get(
    '/api/events/:eventId/dates/:dateId/counts',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['events'],
        summary: "A date's sign-up counts and the count of who came (its organiser, or staff)",
        params: Type.Object({ eventId: Id, dateId: Id }),
        response: { 200: CountsOut, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const { eventId, dateId } = request.params;
      const { event, date } = await organised(request.member, eventId, dateId);
      return countsOut(await signUps.countsOf(eventId, dateId), date, { eventId, dateId }, event.capacity);
    },
  );

  app.put(
    '/api/events/:eventId/dates/:dateId/attendance',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['events'],
        summary:
          'Enter how many came to a date (its organiser, or staff; once it has begun; again: replaced)',
        params: Type.Object({ eventId: Id, dateId: Id }),
        body: Type.Object(
          { attended: Type.Integer({ minimum: 0, maximum: 10_000 }) },
          { additionalProperties: false },
        ),
        response: { 200: CountsOut, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      const t = now();
      const { eventId, dateId } = request.params;
      const { member, event, date } = await organised(request.member, eventId, dateId);
      const wrong = checkAttendance(request.body.attended);
      if (wrong) throw new ApiError(400, wrong);
      if (!attendanceOpen(date, t))
        throw new ApiError(409, 'the date has not begun: enter who came afterwards');
      await signUps.recordAttendance(eventId, dateId, request.body.attended, member.id, t);
      await audit.record({
        at: t,
        actor: member.id,
        action: 'event_attendance',
        target: eventId,
        decision: 'granted',
        reason: null,
        detail: { dateId, attended: request.body.attended },
      });
      return countsOut(await signUps.countsOf(eventId, dateId), date, { eventId, dateId }, event.capacity);
    },
  );
};

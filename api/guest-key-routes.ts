import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { AuditLog } from '../access/audit-log.ts';
import {
  decideGuestKey,
  type GuestKeyDenial,
  keyWindow,
  mayGiveGuestKey,
} from '../access/guest-key-rules.ts';
import type { GuestKey, GuestKeys } from '../access/guest-keys.ts';
import { ANY_MEMBER, type Member } from '../access/roles.ts';
import { DEFAULT_UNLOCK_GRACE_MIN, RateLimiter } from '../access/unlock-rules.ts';
import type { EventStore } from '../events/event-store.ts';
import type { MemberStore } from '../members/member-store.ts';
import { SiteId } from './context.ts';
import { ApiError, ErrorBody } from './errors.ts';
import { DEFAULT_PUBLIC_RATE_LIMIT, type PublicRateLimit } from './event-signup-routes.ts';
import type { Houses } from './houses.ts';
import { doorDetail, openDoor, UnlockAnswer } from './unlock-routes.ts';

/**
 * Guest keys: a member gives a guest a link (`/key#<secret>`) that opens the door of their booking's room,
 * during the booking (from the unlock grace before it), from the guest's phone without an account; an event's
 * organiser gives them for the event's dates. The link shows a page; only a tap on it (a POST with the secret
 * in the body) opens the door: a GET never does, because messengers fetch links for previews, and the secret
 * sits in the fragment, which no server, proxy or log ever sees. The host can revoke a key. A guest's tap goes
 * the member's way (rate limit per key, the same command path, audited with the host).
 *
 * In a network a member gives keys for their bookings in every house (`POST /api/houses/:site/guest-keys`):
 * a key is of its booking's house (`GuestKey.site`), and everything about it is that house's: the room and
 * its lock from the house's site file, the booking from its bookings, the command through its lock channel,
 * the audit entries with `detail.site`. Space ids repeat between houses, so a key is never read without it.
 */

export interface GuestKeyRoutesOptions {
  /**
   * The network's houses (this one among them): a key reads its own house's rooms and locks, bookings (a
   * booking is read in its own house only) and lock channel, and a door it opens is told where the house's are.
   */
  houses: Houses;
  keys: GuestKeys;
  events: Pick<EventStore, 'get' | 'dateOf'>;
  members: Pick<MemberStore, 'findActive'>;
  audit: AuditLog;
  /** Default UNLOCK_GRACE_MIN (10 minutes), as for members. */
  graceBeforeMs?: number;
  /** Taps per key, as a member's per member. */
  limiter?: RateLimiter;
  publicRateLimit?: PublicRateLimit;
  now?: () => number;
}

const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
const KeySecret = Type.String({ minLength: 32, maxLength: 32, pattern: '^[A-Za-z0-9_-]{32}$' });
const Instant = Type.String({ format: 'date-time' });
const KeyState = Type.Union([
  Type.Literal('open'),
  Type.Literal('not_yet'),
  Type.Literal('expired'),
  Type.Literal('revoked'),
  Type.Literal('host_gone'),
  Type.Literal('booking_cancelled'),
  Type.Literal('no_lock'),
]);

const GiveBody = Type.Object(
  {
    bookingId: Id,
    eventId: Type.Optional(Id),
    label: Type.Optional(Type.String({ maxLength: 60 })),
  },
  { additionalProperties: false },
);

const KeyOut = Type.Object({
  id: Type.String(),
  site: Type.String({ description: 'the house (site id) whose door the key opens' }),
  siteName: Type.String(),
  spaceId: Type.String(),
  spaceName: Type.String(),
  bookingId: Type.String(),
  label: Type.String(),
  opensAt: Instant,
  closesAt: Instant,
  createdAt: Instant,
  revoked: Type.Boolean(),
});

const GiveResponses = {
  201: Type.Intersect([KeyOut, Type.Object({ link: Type.String() })]),
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
};

export const guestKeyRoutes: FastifyPluginAsyncTypebox<GuestKeyRoutesOptions> = async (app, options) => {
  const { keys, events, members, audit } = options;
  const now = options.now ?? Date.now;
  const graceBeforeMs = options.graceBeforeMs ?? DEFAULT_UNLOCK_GRACE_MIN * 60_000;
  const limiter = options.limiter ?? new RateLimiter();
  const limit = options.publicRateLimit ?? DEFAULT_PUBLIC_RATE_LIMIT;
  const rateLimit = { max: limit.max, timeWindow: limit.timeWindowMs };
  const { installationHome } = options.houses;
  const here = options.houses.here.site.site.id;

  /** Each house's rooms and whether a lock is installed: a key reads its own house's only. */
  const houseAsked = options.houses.each((house) => {
    const devices = new Set(house.site.devices.map((d) => d.id));
    return {
      ...house,
      spaces: new Map(house.site.spaces.map((s) => [s.id, s])),
      lockInstalled: (lock: string | undefined) => lock !== undefined && devices.has(lock),
    };
  });
  type House = ReturnType<typeof houseAsked>;
  /** A key's house: its booking's (one from before bookings had a site: the installation's home). */
  const keySite = (key: GuestKey) => key.site ?? installationHome;
  const houseOfKey = (key: GuestKey): House | undefined =>
    options.houses.get(keySite(key)) ? houseAsked(keySite(key)) : undefined;

  const iso = (t: number) => new Date(t).toISOString();
  const keyOut = async (key: GuestKey) => {
    const house = houseOfKey(key);
    const booking = await house?.bookings.get(key.bookingId);
    const window = keyWindow(booking ?? { start: key.createdAt, end: key.createdAt }, graceBeforeMs);
    return {
      id: key.id,
      site: house?.site.site.id ?? key.site ?? installationHome,
      siteName: house?.site.site.name ?? key.site ?? installationHome,
      spaceId: key.spaceId,
      spaceName: house?.spaces.get(key.spaceId)?.name ?? key.spaceId,
      bookingId: key.bookingId,
      label: key.label,
      opensAt: iso(window.opensAt),
      closesAt: iso(window.closesAt),
      createdAt: iso(key.createdAt),
      revoked: key.revokedAt !== null,
    };
  };

  /**
   * A key's verdict now, with the facts the audit log names (the host by name). A key of a house this API
   * does not serve finds no booking, and opens nothing.
   */
  const judge = async (key: GuestKey, at: number) => {
    const house = houseOfKey(key);
    const [booking, host] = await Promise.all([
      house?.bookings.get(key.bookingId),
      members.findActive(key.hostId),
    ]);
    const space = house?.spaces.get(key.spaceId);
    const verdict = decideGuestKey({
      key,
      booking,
      hostActive: host !== undefined,
      space,
      lockInstalled: house?.lockInstalled(space?.lock) ?? false,
      now: at,
      graceBeforeMs,
    });
    return { verdict, house, booking, hostName: host?.name ?? null };
  };

  /** A member gives a key for a booking in `house` (this one, or another of the network). */
  const give = async (
    member: Member | null | undefined,
    house: House,
    body: { bookingId: string; eventId?: string | undefined; label?: string | undefined },
  ) => {
    if (!member) throw new ApiError(401, 'sign in first');
    const t = now();
    const { bookingId, eventId } = body;
    const houseId = house.site.site.id;
    const label = (body.label ?? '').trim();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    if (/[\u0000-\u001f\u007f]/.test(label)) throw new ApiError(400, 'control characters are not allowed');
    // The house's own bookings: a booking of another house is not found here, whatever its id.
    const booking = await house.bookings.get(bookingId);
    const event = eventId ? await events.get(eventId) : undefined;
    const organises =
      event !== undefined &&
      event.organiserId === member.id &&
      (await events.dateOf(event.id, bookingId)) !== undefined;
    const space = booking ? house.spaces.get(booking.spaceId) : undefined;
    const may = mayGiveGuestKey({
      host: member,
      booking,
      organisesEventOnIt: organises,
      space,
      lockInstalled: house.lockInstalled(space?.lock),
      now: t,
    });
    if (!may.ok) {
      await audit.record({
        at: t,
        actor: member.id,
        action: 'guest_key_give',
        target: booking?.spaceId ?? null,
        decision: 'denied',
        reason: may.reason,
        detail: { booking: bookingId, event: eventId ?? null, site: houseId },
      });
      if (may.reason === 'not_your_booking')
        throw new ApiError(403, 'not_your_booking: a key opens only a room you booked, or your event');
      throw new ApiError(
        409,
        may.reason === 'no_lock' ? 'no_lock: this room has no lock' : 'booking_over: this booking is over',
      );
    }
    const made = await keys.create(
      { hostId: member.id, spaceId: (booking as { spaceId: string }).spaceId, bookingId, label },
      t,
    );
    await audit.record({
      at: t,
      actor: member.id,
      action: 'guest_key_give',
      target: made.key.spaceId,
      decision: 'granted',
      reason: organises && booking?.memberId !== member.id ? 'organiser' : 'booking',
      detail: {
        guestKey: made.key.id,
        booking: bookingId,
        event: eventId ?? null,
        host: member.name,
        site: houseId,
      },
    });
    return { ...(await keyOut(made.key)), link: `/key#${made.token}` };
  };

  app.post(
    '/api/guest-keys',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['access'],
        summary:
          "Give a guest a key: a link that opens your booking's room during it (an event's organiser: its dates)",
        description:
          'The answer carries the link once (`/key#<secret>`): only its hash is kept. Refused (403 not_your_booking) for a room you did not book, unless you organise the event on it (give its eventId); 409 when the booking is over or the room has no lock.',
        body: GiveBody,
        response: GiveResponses,
      },
    },
    async (request, reply) =>
      reply.code(201).send(await give(request.member, houseAsked(here), request.body)),
  );

  app.post(
    '/api/houses/:site/guest-keys',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['access'],
        summary:
          "Give a guest a key for your booking in a house of the network: it opens that house's room, during the booking, through that house's lock",
        description:
          'As POST /api/guest-keys, with the booking (and the event on it) in the house named: a booking of another house is not_your_booking there. 404 for a house the network does not have.',
        params: Type.Object({ site: SiteId }),
        body: GiveBody,
        response: GiveResponses,
      },
    },
    async (request, reply) =>
      reply.code(201).send(await give(request.member, houseAsked(request.params.site), request.body)),
  );

  app.get(
    '/api/guest-keys',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['access'],
        summary: 'The guest keys you gave, newest first (never their links)',
        response: { 200: Type.Object({ keys: Type.Array(KeyOut) }), 401: ErrorBody },
      },
    },
    async (request) => {
      const member = request.member;
      if (!member) throw new ApiError(401, 'sign in first');
      return { keys: await Promise.all((await keys.listByHost(member.id)).map(keyOut)) };
    },
  );

  app.delete(
    '/api/guest-keys/:id',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['access'],
        summary:
          "Revoke a guest key (its host, or staff of the key's house): its link opens nothing from now on",
        params: Type.Object({ id: Id }),
        response: { 204: Type.Null(), 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const member = request.member;
      if (!member) throw new ApiError(401, 'sign in first');
      const t = now();
      const key = await keys.get(request.params.id);
      if (
        !key ||
        // Staff of the key's house revoke any of its keys; staff of another house are plain members there.
        (key.hostId !== member.id && !options.houses.isStaffIn(member, keySite(key))) ||
        !(await keys.revoke(key.id, member.id, t))
      )
        throw new ApiError(404, `no guest key "${request.params.id}" of yours to revoke`);
      await audit.record({
        at: t,
        actor: member.id,
        action: 'guest_key_revoke',
        target: key.spaceId,
        decision: 'granted',
        reason: key.hostId === member.id ? 'host' : 'staff',
        detail: { guestKey: key.id, booking: key.bookingId, site: keySite(key) },
      });
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/public/guest-key',
    {
      config: { access: 'public', rateLimit },
      schema: {
        tags: ['access'],
        summary: "What a guest's key opens and when (the key page); never opens anything",
        body: Type.Object({ token: KeySecret }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            siteName: Type.String({ description: 'the house the door is in' }),
            spaceName: Type.String(),
            opensAt: Instant,
            closesAt: Instant,
            state: KeyState,
          }),
          400: ErrorBody,
          404: ErrorBody,
          429: ErrorBody,
        },
      },
    },
    async (request) => {
      const key = await keys.byToken(request.body.token);
      if (!key) throw new ApiError(404, 'this key does not exist');
      const { verdict } = await judge(key, now());
      const out = await keyOut(key);
      return {
        siteName: out.siteName,
        spaceName: out.spaceName,
        opensAt: out.opensAt,
        closesAt: out.closesAt,
        state: verdict.granted ? ('open' as const) : verdict.reason,
      };
    },
  );

  app.post(
    '/api/public/guest-key/unlock',
    {
      config: { access: 'public', rateLimit },
      schema: {
        tags: ['access'],
        summary: "A guest's tap: opens the key's door during its booking; audited with the host",
        description:
          '200 unlocked; 403 denied (revoked, not_yet, expired, booking_cancelled, host_gone, no_lock); 404 no such key; 429 too many taps (per key, as a member; and per address); 502/503/504 as a member unlock.',
        body: Type.Object({ token: KeySecret }, { additionalProperties: false }),
        response: {
          200: UnlockAnswer,
          400: ErrorBody,
          403: UnlockAnswer,
          404: ErrorBody,
          429: Type.Union([UnlockAnswer, ErrorBody]),
          502: UnlockAnswer,
          503: UnlockAnswer,
          504: UnlockAnswer,
        },
      },
    },
    async (request, reply) => {
      const started = now();
      const key = await keys.byToken(request.body.token);
      if (!key) {
        await audit.record({
          at: started,
          actor: null,
          action: 'unlock',
          target: null,
          decision: 'denied',
          reason: 'unknown_guest_key',
          detail: { via: 'guest_key' },
        });
        throw new ApiError(404, 'this key does not exist');
      }
      const { verdict, house, hostName } = await judge(key, started);
      const record = (decision: 'granted' | 'denied', reason: string, detail: Record<string, unknown> = {}) =>
        audit.record({
          at: started,
          actor: key.hostId,
          action: 'unlock',
          target: key.spaceId,
          decision,
          reason,
          detail: {
            via: 'guest_key',
            guestKey: key.id,
            host: hostName,
            booking: key.bookingId,
            site: keySite(key),
            ...detail,
            latencyMs: now() - started,
          },
        });
      const take = limiter.take(`guest-key:${key.id}`, started);
      if (!take.allowed) {
        const retryAfterS = Math.ceil(take.retryAfterMs / 1000);
        await record('denied', 'rate_limited', { retryAfterS });
        reply.header('retry-after', String(retryAfterS));
        return reply.code(429).send({ result: 'rate_limited', space: key.spaceId, retryAfterS });
      }
      if (!verdict.granted || !house) {
        const reason = verdict.granted ? 'booking_cancelled' : verdict.reason;
        await record('denied', reason satisfies GuestKeyDenial);
        return reply.code(403).send({ result: 'denied', space: key.spaceId, reason });
      }
      // The key's house's lock, through its own channel: never a door of the same id in another house.
      const { report, status, result } = await openDoor({
        commands: house.commands,
        lock: verdict.lock,
        spaceId: key.spaceId,
        siteId: house.site.site.id,
        events: house.events,
        now,
      });
      await record('granted', 'guest_key', { lock: verdict.lock, ...doorDetail(report, result, started) });
      request.log.info(
        { guestKey: key.id, space: key.spaceId, lock: verdict.lock, result },
        'guest key unlock',
      );
      return reply.code(status).send({
        result,
        space: key.spaceId,
        reason: 'guest_key',
        lock: verdict.lock,
        ...(report.id ? { commandId: report.id } : {}),
        ...(result === 'unlocked' ? {} : { detail: report.detail }),
        latencyMs: now() - started,
      });
    },
  );
};

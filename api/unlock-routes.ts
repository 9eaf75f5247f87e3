import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import type { AuditLog } from '../access/audit-log.ts';
import { ANY_MEMBER, roleAt } from '../access/roles.ts';
import {
  BOOKING_CONTEXT_MS,
  type BookingFacts,
  DEFAULT_UNLOCK_GRACE_MIN,
  decideTokenUnlock,
  decideUnlock,
  RateLimiter,
} from '../access/unlock-rules.ts';
import { openingIntervals } from '../bookings/booking-rules.ts';
import type { EventAnnouncer } from '../building/events.ts';
import type { SiteConfig } from '../site/site.ts';
import { SiteId } from './context.ts';
import { ErrorBody } from './errors.ts';
import type { CommandReport, LockCommands } from './lock-commands.ts';

/**
 * Phone unlock: `POST /api/spaces/:id/unlock`. The rules (access/unlock-rules.ts) decide from the member's
 * bookings, or for an integration token with `unlock:write` (Node-RED's "command out") from the doors the
 * token names and the space's opening hours or a booking covering now (`decideTokenUnlock`); only a granted
 * attempt sends a command, through the building's command topic to the gateway,
 * which drives the lock through its profile and answers with the lock's confirmation. Every attempt, granted
 * or not, is written to the audit log with the lock's answer and the latency.
 *
 * One answer shape for every outcome, so a phone shows `result` (and `reason`) without parsing errors:
 *   200 unlocked · 403 denied (reason) · 404 unknown space · 429 rate_limited · 502 failed (the gateway refused
 *   or the lock reported failure) · 503 lock_offline (the lock, the gateway or the broker is unreachable: a
 *   retry later may work) · 504 timeout (the lock did not confirm in time: the door may or may not be open).
 */

export const UnlockResult = Type.Union([
  Type.Literal('unlocked'),
  Type.Literal('denied'),
  Type.Literal('lock_offline'),
  Type.Literal('timeout'),
  Type.Literal('failed'),
  Type.Literal('rate_limited'),
]);

export const UnlockAnswer = Type.Object(
  {
    result: UnlockResult,
    space: Type.String(),
    reason: Type.Optional(
      Type.String({
        description:
          'why it was denied: no_booking, outside_booking, not_your_space, no_lock, not_bookable (a member); not_on_token, outside_opening_hours (an integration token); or why it was granted: booking, staff, opening_hours',
      }),
    ),
    lock: Type.Optional(Type.String({ description: 'device id of the lock that was commanded' })),
    commandId: Type.Optional(Type.String({ description: 'id of the command sent to the lock' })),
    detail: Type.Optional(Type.String({ description: "the gateway's or lock's own words" })),
    latencyMs: Type.Optional(Type.Number({ description: 'from the request to the answer' })),
    retryAfterS: Type.Optional(
      Type.Integer({ description: 'with rate_limited: seconds until the next try' }),
    ),
  },
  { description: 'What happened at the door' },
);
export type UnlockAnswer = Static<typeof UnlockAnswer>;

/** What an unlock route answers, this house's and another house's alike. */
export const UnlockResponses = {
  200: UnlockAnswer,
  400: ErrorBody,
  401: ErrorBody,
  403: Type.Union([UnlockAnswer, ErrorBody]),
  404: ErrorBody,
  429: UnlockAnswer,
  502: UnlockAnswer,
  503: UnlockAnswer,
  504: UnlockAnswer,
};

export interface UnlockRoutesOptions {
  site: SiteConfig;
  /**
   * In a network: the site of members who name no home (the installation's first); default this site. A
   * member whose home is another site books here as a guest, by this site file's `guests`.
   */
  installationHome?: string;
  audit: AuditLog;
  /** The bookings of a space overlapping [from, to), active ones only (a BookingStore). */
  bookings: { spaceBookings(spaceId: string, from: number, to: number): Promise<readonly BookingFacts[]> };
  /** The command channel; without one every granted unlock answers lock_offline. */
  commands?: Pick<LockCommands, 'send'> | undefined;
  /** Default UNLOCK_GRACE_MIN (10 minutes). */
  graceBeforeMs?: number;
  limiter?: RateLimiter;
  now?: () => number;
  /** Where a door the lock confirmed open is told (`door-opened`, the building feed); without one it is not. */
  events?: EventAnnouncer;
}

/** How a command's report reads to the member, and which status carries it. */
export function answerFor(report: CommandReport): {
  status: 200 | 502 | 503 | 504;
  result: UnlockAnswer['result'];
} {
  switch (report.outcome) {
    case 'done':
      return { status: 200, result: 'unlocked' };
    case 'offline':
    case 'not_sent':
      return { status: 503, result: 'lock_offline' };
    case 'timeout':
    case 'no_answer':
      return { status: 504, result: 'timeout' };
    default:
      return { status: 502, result: 'failed' };
  }
}

/**
 * Opens a door whose opening was granted: the one command path of every unlock (a member's phone, a guest's
 * key), through the command channel to the gateway, which executes a command id at most once and never after
 * its expiry. A door the lock confirmed open is told once on the building feed (`door-opened`).
 */
export async function openDoor(o: {
  commands: Pick<LockCommands, 'send'> | undefined;
  lock: string;
  spaceId: string;
  siteId: string;
  events: EventAnnouncer | undefined;
  now: () => number;
}): Promise<{ report: CommandReport; status: 200 | 502 | 503 | 504; result: UnlockAnswer['result'] }> {
  const report: CommandReport = o.commands
    ? await o.commands.send(o.lock, 'unlock')
    : {
        id: null,
        device: o.lock,
        action: 'unlock',
        outcome: 'not_sent',
        detail: 'this API has no command channel',
        publishedAt: null,
        answeredAt: null,
      };
  const { status, result } = answerFor(report);
  if (result === 'unlocked' && report.id) {
    o.events?.announce({
      type: 'door-opened',
      id: randomUUID(),
      site: o.siteId,
      space: o.spaceId,
      at: report.answeredAt ?? o.now(),
      device: o.lock,
      commandId: report.id,
    });
  }
  return { report, status, result };
}

/** What the audit log keeps of a door's answer. */
export function doorDetail(report: CommandReport, result: UnlockAnswer['result'], started: number) {
  return {
    result,
    outcome: report.outcome,
    lockDetail: report.detail,
    commandId: report.id,
    publishedMs: report.publishedAt === null ? null : report.publishedAt - started,
  };
}

/** One house's doors as the unlock routes open them: here (`/api/spaces/:id/unlock`) or another house's. */
export interface UnlockHouse {
  site: SiteConfig;
  /** The site of members who name no home (the installation's first). */
  installationHome: string;
  /** The bookings of a space overlapping [from, to), active ones only (this house's BookingStore). */
  bookings: { spaceBookings(spaceId: string, from: number, to: number): Promise<readonly BookingFacts[]> };
  /** This house's command channel; without one every granted unlock answers lock_offline. */
  commands?: Pick<LockCommands, 'send'> | undefined;
  /** Where a door the lock confirmed open is told (the event names this house). */
  events?: EventAnnouncer | undefined;
}

/** What every house's unlock shares: the audit log, the clock, and one rate limit per caller across houses. */
export interface UnlockShared {
  audit: AuditLog;
  graceBeforeMs: number;
  limiter: RateLimiter;
  now: () => number;
  /** Write the house into every audit entry's detail (the network's house routes). */
  auditSite?: boolean;
}

/**
 * A tap on a door of `house`: the rate limit, the rules (the caller's role in that house; a guest opens only
 * what its `guests` open to their home), the command through the house's channel, and the audit entry,
 * whatever the outcome.
 */
export async function unlockAt(
  house: UnlockHouse,
  shared: UnlockShared,
  request: FastifyRequest,
  reply: FastifyReply,
  spaceId: string,
) {
  const { site, commands, bookings } = house;
  const { audit, graceBeforeMs, limiter, now } = shared;
  const spaces = new Map(site.spaces.map((s) => [s.id, s]));
  const devices = new Set(site.devices.map((d) => d.id));
  const started = now();
  // A member, or an integration token with unlock:write: the auth hook let in one of them.
  const member = request.member;
  const token = member ? null : request.integration;
  // The auth hook has already answered 401 for a caller without either; this keeps the types honest.
  if (!member && !token)
    return reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: 'sign in first' });
  const actor = member ? member.id : `token:${token?.id}`;
  // The token's label on every decision, so the log reads "node-red" and not only a hash's start.
  const by = member
    ? { role: roleAt(member, site.site.id, house.installationHome) }
    : { token: token?.label };
  const space = spaces.get(spaceId);
  const record = (decision: 'granted' | 'denied', reason: string, detail: Record<string, unknown> = {}) =>
    audit.record({
      at: started,
      actor,
      action: 'unlock',
      target: spaceId,
      decision,
      reason,
      detail: {
        ...by,
        ...(shared.auditSite ? { site: site.site.id } : {}),
        ...detail,
        latencyMs: now() - started,
      },
    });

  // One bucket per member and one per token, at the same rate: a flow taps no faster than a phone.
  const take = limiter.take(actor, started);
  if (!take.allowed) {
    const retryAfterS = Math.ceil(take.retryAfterMs / 1000);
    await record('denied', 'rate_limited', { retryAfterS });
    reply.header('retry-after', String(retryAfterS));
    return reply.code(429).send({ result: 'rate_limited', space: spaceId, retryAfterS });
  }
  if (!space) {
    await record('denied', 'unknown_space');
    return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no space "${spaceId}"` });
  }

  const lockInstalled = space.lock !== undefined && devices.has(space.lock);
  const around = () =>
    bookings.spaceBookings(space.id, started - BOOKING_CONTEXT_MS, started + BOOKING_CONTEXT_MS);
  const verdict = member
    ? decideUnlock({
        member,
        space,
        // Roles are per site, and a guest opens only what this site opens to their home.
        site: {
          id: site.site.id,
          installationHome: house.installationHome,
          ...(site.guests ? { guests: site.guests } : {}),
        },
        lockInstalled,
        bookings: await around(),
        now: started,
        graceBeforeMs,
      })
    : decideTokenUnlock({
        token: { locks: token?.locks ?? [] },
        space,
        lockInstalled,
        openNow: openingIntervals(space, { start: started, end: started + 1 }, site.site.timezone).length > 0,
        bookings: await around(),
        now: started,
        graceBeforeMs,
      });
  if (!verdict.granted) {
    await record('denied', verdict.reason, { lock: space.lock ?? null });
    return reply.code(403).send({ result: 'denied', space: space.id, reason: verdict.reason });
  }

  const { report, status, result } = await openDoor({
    commands,
    lock: verdict.lock,
    spaceId: space.id,
    siteId: site.site.id,
    events: house.events,
    now,
  });
  const latencyMs = now() - started;
  await record('granted', verdict.reason, {
    lock: verdict.lock,
    booking: verdict.booking,
    ...doorDetail(report, result, started),
  });
  request.log.info({ actor, space: space.id, lock: verdict.lock, result, latencyMs }, 'unlock');
  return reply.code(status).send({
    result,
    space: space.id,
    reason: verdict.reason,
    lock: verdict.lock,
    ...(report.id ? { commandId: report.id } : {}),
    ...(result === 'unlocked' ? {} : { detail: report.detail }),
    latencyMs,
  });
}

export const unlockRoutes: FastifyPluginAsyncTypebox<UnlockRoutesOptions> = async (app, options) => {
  const house: UnlockHouse = {
    site: options.site,
    installationHome: options.installationHome ?? options.site.site.id,
    bookings: options.bookings,
    commands: options.commands,
    events: options.events,
  };
  const shared: UnlockShared = {
    audit: options.audit,
    graceBeforeMs: options.graceBeforeMs ?? DEFAULT_UNLOCK_GRACE_MIN * 60_000,
    limiter: options.limiter ?? new RateLimiter(),
    now: options.now ?? Date.now,
  };
  app.post(
    '/api/spaces/:id/unlock',
    {
      config: { access: ANY_MEMBER, tokenScope: 'unlock:write' },
      schema: {
        tags: ['access'],
        summary:
          'Open the lock of a space you booked (facility and admin: any lock; a token: the doors it names); every attempt is audited',
        description:
          'Granted when you have a booking of the space covering now (from UNLOCK_GRACE_MIN before its start) or your role is facility or admin; to an integration token when its --locks name the space or its lock and the space is in its opening hours or a booking of it covers now. 200 unlocked; 403 denied with a reason; 429 too many attempts (Retry-After); 502 the lock or gateway refused; 503 lock_offline; 504 timeout (no confirmation from the lock).',
        params: Type.Object({ id: SiteId }),
        response: UnlockResponses,
      },
    },
    async (request, reply) => unlockAt(house, shared, request, reply, request.params.id),
  );
};

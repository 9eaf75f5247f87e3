import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import type { AuditLog } from '../access/audit-log.ts';
import { ANY_MEMBER, type RouteAccess, STAFF } from '../access/roles.ts';
import type { BookingStore } from '../bookings/booking-store.ts';
import {
  NOTICE_DEFAULT_MINUTES,
  NOTICE_MAX_MINUTES,
  NOTICE_TOPIC_PATTERN,
  type SpaceNotice,
  type SpaceNotices,
} from '../notices/space-notices.ts';
import type { SiteConfig } from '../site/site.ts';
import { SiteId } from './context.ts';
import { ApiError, ErrorBody } from './errors.ts';

/**
 * Notices on spaces (notices/space-notices.ts): `PUT /api/spaces/:id/notices/:topic` puts one up (Node-RED's
 * "notice" node with a `notices:write` token, or a facility manager), `DELETE` takes it down; the member view
 * asks `GET /api/me/notices` (the notices of the rooms the member has booked now), the lobby screen
 * `GET /api/lobby/notices` (every room's, for a lobby token or any member). What is shown carries no one's name:
 * the space, the text, its level and its end. Putting up and taking down are audited (`space_notice`).
 */

const NoticeOut = Type.Object(
  {
    space: Type.String(),
    topic: Type.String(),
    message: Type.String(),
    level: Type.Union([Type.Literal('info'), Type.Literal('warning')]),
    postedAt: Type.Number({ description: 'epoch ms' }),
    expiresAt: Type.Number({ description: 'epoch ms: gone by itself then, unless put up again' }),
  },
  { additionalProperties: false },
);
type NoticeOut = Static<typeof NoticeOut>;

const NoticesOut = Type.Object({ notices: Type.Array(NoticeOut) }, { additionalProperties: false });

const NoticeParams = Type.Object({
  id: SiteId,
  topic: Type.String({
    pattern: NOTICE_TOPIC_PATTERN,
    description: 'whose notice: e.g. `air`; the same topic again replaces it',
  }),
});

const NoticeBody = Type.Object(
  {
    message: Type.String({ minLength: 1, maxLength: 280, description: 'what the people in the room read' }),
    level: Type.Optional(Type.Union([Type.Literal('info'), Type.Literal('warning')], { default: 'info' })),
    minutes: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: NOTICE_MAX_MINUTES,
        description: `how long it stays up unless put up again or taken down (default ${NOTICE_DEFAULT_MINUTES})`,
      }),
    ),
  },
  { additionalProperties: false },
);

export interface NoticeRoutesOptions {
  site: SiteConfig;
  notices: SpaceNotices;
  bookings: Pick<BookingStore, 'listMine'>;
  audit: AuditLog;
  now: () => number;
  /** Who may read the lobby's notices: as the lobby itself (a lobby token, or anyone with LOBBY_PUBLIC). */
  lobbyAccess: RouteAccess;
}

const shown = (n: SpaceNotice): NoticeOut => ({
  space: n.space,
  topic: n.topic,
  message: n.message,
  level: n.level,
  postedAt: n.postedAt,
  expiresAt: n.expiresAt,
});

export const noticeRoutes: FastifyPluginAsyncTypebox<NoticeRoutesOptions> = async (app, options) => {
  const { site, notices, bookings, audit, now } = options;
  const siteId = site.site.id;
  const spaces = new Set(site.spaces.map((s) => s.id));
  let lastPrune = 0;
  const pruneNow = async (at: number) => {
    // Ended notices are never shown; they are forgotten an hour after, at most once an hour.
    if (at - lastPrune < 3_600_000) return;
    lastPrune = at;
    await notices.prune(at - 3_600_000);
  };

  const who = (request: {
    member: { id: string } | null;
    integration: { id: string; label: string } | null;
  }) =>
    request.member
      ? { actor: request.member.id, postedBy: `member:${request.member.id}`, by: {} }
      : {
          actor: `token:${request.integration?.id}`,
          postedBy: `token:${request.integration?.id}`,
          by: { token: request.integration?.label },
        };

  app.put(
    '/api/spaces/:id/notices/:topic',
    {
      config: { access: STAFF, tokenScope: 'notices:write' },
      schema: {
        tags: ['notices'],
        summary:
          "Put up a space's notice of this topic (replacing the one before): shown on the member view of whoever has booked the space now and on its lobby tile. Facility and admin sessions, tokens with notices:write",
        params: NoticeParams,
        body: NoticeBody,
        response: {
          200: Type.Object({ notice: NoticeOut }),
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const { id, topic } = request.params;
      if (!spaces.has(id)) throw new ApiError(404, `no space ${id}`);
      const at = now();
      const caller = who(request);
      const notice: SpaceNotice = {
        site: siteId,
        space: id,
        topic,
        message: request.body.message,
        level: request.body.level ?? 'info',
        postedAt: at,
        expiresAt: at + (request.body.minutes ?? NOTICE_DEFAULT_MINUTES) * 60_000,
        postedBy: caller.postedBy,
      };
      await notices.post(notice);
      await audit.record({
        at,
        actor: caller.actor,
        action: 'space_notice',
        target: id,
        decision: 'granted',
        reason: 'posted',
        detail: { ...caller.by, topic, level: notice.level, expiresAt: notice.expiresAt },
      });
      await pruneNow(at);
      return { notice: shown(notice) };
    },
  );

  app.delete(
    '/api/spaces/:id/notices/:topic',
    {
      config: { access: STAFF, tokenScope: 'notices:write' },
      schema: {
        tags: ['notices'],
        summary: "Take a space's notice of this topic down (204 also when none was up)",
        params: NoticeParams,
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const { id, topic } = request.params;
      if (!spaces.has(id)) throw new ApiError(404, `no space ${id}`);
      const caller = who(request);
      const was = await notices.clear(siteId, id, topic);
      if (was)
        await audit.record({
          at: now(),
          actor: caller.actor,
          action: 'space_notice',
          target: id,
          decision: 'granted',
          reason: 'cleared',
          detail: { ...caller.by, topic },
        });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/me/notices',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['notices'],
        summary: 'The notices up now in the spaces the signed-in member has booked now',
        response: { 200: NoticesOut, 401: ErrorBody },
      },
    },
    async (request) => {
      if (!request.member) throw new ApiError(401, 'sign in first (POST /api/auth/login)');
      const at = now();
      const mine = await bookings.listMine(request.member.id, { start: at, end: at + 1 });
      const booked = [
        ...new Set(
          mine
            .filter(
              (b) => (b.status === 'booked' || b.status === 'checked_in') && b.start <= at && b.end > at,
            )
            .map((b) => b.spaceId),
        ),
      ];
      return { notices: (await notices.current(siteId, at, booked)).map(shown) };
    },
  );

  app.get(
    '/api/lobby/notices',
    {
      config: { access: options.lobbyAccess },
      schema: {
        tags: ['lobby'],
        summary:
          "Every space's notices up now, for its lobby tile (a lobby-screen token or any member; no names); a token made for another house of the network gets that house's",
        querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 128 })) }),
        response: { 200: NoticesOut, 401: ErrorBody },
      },
    },
    // The house the lobby shows: its token's (the identity admits only the network's houses), else this one.
    async (request) => ({
      notices: (await notices.current((!request.member && request.lobbySite) || siteId, now())).map(shown),
    }),
  );
};

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import Value from 'typebox/value';
import type { WebSocket } from 'ws';
import type { RouteAccess } from '../access/roles.ts';
import type { BookingStore } from '../bookings/booking-store.ts';
import type { BuildingFeed } from '../building/live-feed.ts';
import type { SiteConfig } from '../site/site.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import type { ApiContext } from './context.ts';
import { ApiError, ErrorBody } from './errors.ts';
import { endRefusedUpgrade } from './live-stream.ts';
import { type BookedSlot, LobbySpace } from './lobby-availability.ts';
import { LobbyWatch, type LobbyWatchOptions } from './lobby-watch.ts';
import { CREDENTIALS_ENDED } from './socket-sessions.ts';

/**
 * The lobby screen's data: GET /api/lobby (everything at once) and the WebSocket /api/lobby/live (the same,
 * then each space as it changes). Both answer a lobby-screen token or any signed-in member; when the
 * operator sets LOBBY_PUBLIC=true, anyone. Public or not, they carry only the fields of LobbySpace: the
 * schemas below list them with additionalProperties false, so nothing else can slip out.
 */
/** Another house of the network whose lobby this API shows to that house's lobby tokens. */
export interface LobbyHouse {
  site: SiteConfig;
  feed: BuildingFeed;
  /** That house's readings (its view of the network's store). */
  store: TimeSeriesStore;
  /** That house's bookings. */
  bookings: BookingStore;
}

export interface LobbyRoutesOptions extends ApiContext {
  bookings: BookingStore;
  /**
   * The network's other houses, by site id: a lobby token made for one of them (`wesprint lobby-token create
   * --site`) shows that house's lobby here. A token of a house missing here shows nothing (403).
   */
  houses?: ReadonlyMap<string, LobbyHouse>;
  /** Anyone may read the lobby without a token (LOBBY_PUBLIC=true). */
  public: boolean;
  watch?: LobbyWatchOptions;
  /** Above this many bytes waiting in a screen's socket it is cut off; it reconnects and gets a fresh board. */
  maxBufferedBytes?: number;
  /** How often the live channel says it is alive when nothing changes (default 10 s). */
  heartbeatMs?: number;
}

const LobbySite = Type.Object(
  { id: Type.String(), name: Type.String(), timezone: Type.String() },
  { additionalProperties: false },
);

const LobbyFloor = Type.Object(
  { id: Type.String(), name: Type.String(), level: Type.Integer() },
  { additionalProperties: false },
);

export const LobbyOut = Type.Object(
  {
    site: LobbySite,
    at: Type.Number({ description: 'epoch ms the board describes' }),
    floors: Type.Array(LobbyFloor, { description: 'the floors, for the screen to group spaces by' }),
    spaces: Type.Array(LobbySpace),
  },
  { additionalProperties: false },
);
export type LobbyOut = Static<typeof LobbyOut>;

/**
 * What the lobby channel sends, in order: hello, the whole board, then one space per change, and a heartbeat
 * every few seconds so that a screen can tell a quiet building from a dead connection.
 */
export type LobbyMessage =
  | { type: 'hello'; channel: 'lobby'; site: string }
  | ({ type: 'lobby' } & LobbyOut)
  | { type: 'lobby-space'; site: string; at: number; space: LobbySpace }
  | { type: 'heartbeat'; at: number };

const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024;
const DEFAULT_HEARTBEAT_MS = 10_000;

/**
 * A WebSocket message has no response schema to filter it, so each entry is cut to the schema's fields here:
 * whatever a later change adds to the board's entries stays off the public channel until LobbySpace lists it.
 */
export function publicEntry(space: LobbySpace): LobbySpace {
  return Value.Clean(LobbySpace, structuredClone(space)) as LobbySpace;
}

/** Close code for a screen whose token was revoked while it watched (api/socket-sessions.ts closes it). */
export const LOBBY_TOKEN_REVOKED = CREDENTIALS_ENDED;

/** One house's lobby: its watch and what every board of it names. */
interface HouseBoard {
  watch: LobbyWatch;
  siteOut: Static<typeof LobbySite>;
  floorsOut: Static<typeof LobbyFloor>[];
}

export const lobbyRoutes: FastifyPluginAsyncTypebox<LobbyRoutesOptions> = async (app, options) => {
  const { profiles, now } = options;
  /** Each house's board, made (and its watch started) when a screen of that house first asks. */
  const boards = new Map<string, Promise<HouseBoard>>();
  const boardOf = (house: LobbyHouse): Promise<HouseBoard> => {
    const id = house.site.site.id;
    let board = boards.get(id);
    if (!board) {
      board = houseBoard(house);
      boards.set(id, board);
      // A board that could not start is tried again by the next screen.
      board.catch(() => boards.delete(id));
    }
    return board;
  };
  async function houseBoard(house: LobbyHouse): Promise<HouseBoard> {
    const { site, bookings } = house;
    const watch = new LobbyWatch(
      {
        site,
        feed: house.feed,
        store: house.store,
        profiles,
        // Only the times leave the booking store here: who booked stays behind.
        bookedSlots: async (spaceId, from, to): Promise<BookedSlot[]> =>
          (await bookings.spaceBookings(spaceId, from, to)).map((b) => ({ start: b.start, end: b.end })),
        bookingsMarker: () => bookings.changeMarker(),
        logger: app.log,
        now,
      },
      options.watch,
    );
    await watch.start();
    return {
      watch,
      siteOut: { id: site.site.id, name: site.site.name, timezone: site.site.timezone },
      floorsOut: site.floors.map((f) => ({ id: f.id, name: f.name, level: f.level })),
    };
  }
  const home: LobbyHouse = {
    site: options.site,
    feed: options.feed,
    store: options.store,
    bookings: options.bookings,
  };
  // This house's board is ready before the first request, as always; another house's on its first screen.
  await boardOf(home);
  app.addHook('onClose', async () => {
    for (const board of boards.values()) await board.then((b) => b.watch.stop()).catch(() => undefined);
  });
  /** The house a request's lobby shows: its token's house, else this one. */
  const houseFor = (request: FastifyRequest): LobbyHouse => {
    const siteId = request.member ? null : request.lobbySite;
    if (siteId === null || siteId === home.site.site.id) return home;
    const house = options.houses?.get(siteId);
    if (!house)
      throw new ApiError(403, `this lobby token is for "${siteId}", a house this API does not show`);
    return house;
  };

  const access: RouteAccess = options.public ? 'public' : 'lobby';
  const who = options.public ? 'anyone (LOBBY_PUBLIC=true)' : 'a lobby-screen token or any signed-in member';
  const bufferLimit = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const Query = Type.Object({
    token: Type.Optional(
      Type.String({
        maxLength: 128,
        description: 'lobby-screen token, for screens that cannot send headers',
      }),
    ),
  });

  const snapshot = async ({ watch, siteOut, floorsOut }: HouseBoard): Promise<LobbyOut> => {
    const board = await watch.board();
    return { site: siteOut, at: now(), floors: floorsOut, spaces: board.spaces };
  };

  app.get(
    '/api/lobby',
    {
      config: { access },
      schema: {
        tags: ['lobby'],
        summary: `Every bookable space: free or busy now and until when, occupancy, CO2 level. For ${who}; no personal data. A token made for another house of the network shows that house`,
        querystring: Query,
        response: { 200: LobbyOut, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request) => snapshot(await boardOf(houseFor(request))),
  );

  app.get(
    '/api/lobby/live',
    {
      websocket: true,
      config: {
        access,
        // @fastify/websocket hides its routes from the OpenAPI document; this one is part of the API.
        swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, hide: false }, url }),
      },
      schema: {
        tags: ['lobby'],
        summary:
          `WebSocket for ${who}: {type:"hello",channel:"lobby"}, then {type:"lobby",site,at,floors,spaces} (as GET ` +
          '/api/lobby), then {type:"lobby-space",site,at,space} whenever a space changes, and ' +
          `{type:"heartbeat",at} every ${heartbeatMs / 1000} s: a screen that hears nothing for three ` +
          'heartbeats should say that what it shows may be old. A revoked lobby token or an ended session is ' +
          `closed with code ${LOBBY_TOKEN_REVOKED} within 10 s`,
        querystring: Query,
        response: { 401: ErrorBody, 403: ErrorBody },
      },
      onResponse: endRefusedUpgrade,
      // Before the upgrade: a token of a house not shown here is an HTTP refusal.
      preHandler: async (request) => {
        houseFor(request);
      },
    },
    (socket: WebSocket, request) => {
      const house = houseFor(request);
      const site = house.site;
      const send = (message: LobbyMessage) => {
        if (socket.readyState !== socket.OPEN) return;
        if (socket.bufferedAmount > bufferLimit) {
          request.log.warn('lobby channel: screen too slow, disconnected');
          socket.terminate();
          return;
        }
        socket.send(JSON.stringify(message));
      };
      const change = (space: LobbySpace) =>
        send({ type: 'lobby-space', site: site.site.id, at: now(), space: publicEntry(space) });
      // Changes heard while the board is read come after it, in order.
      let early: LobbySpace[] | undefined = [];
      let unsubscribe = () => {};
      let closed = false;
      // A revoked token or an ended session closes the socket (api/socket-sessions.ts), not this route.
      const heartbeat = setInterval(() => send({ type: 'heartbeat', at: now() }), heartbeatMs);
      socket.on('close', () => {
        closed = true;
        clearInterval(heartbeat);
        unsubscribe();
      });
      socket.on('error', (err) => request.log.debug({ err: err.message }, 'lobby channel: socket error'));
      // Screens only listen; what they send is ignored (the server's maxPayload bounds it).
      socket.on('message', () => {});
      send({ type: 'hello', channel: 'lobby', site: site.site.id });
      boardOf(house)
        .then((board) => {
          if (closed) return undefined;
          unsubscribe = board.watch.subscribe((space) => {
            if (early) early.push(space);
            else change(space);
          });
          return snapshot(board);
        })
        .then(
          (board) => {
            if (!board) return;
            send({ type: 'lobby', ...board, spaces: board.spaces.map(publicEntry) });
            const heard = early ?? [];
            early = undefined;
            for (const space of heard) change(space);
          },
          (err: Error) => {
            request.log.warn({ err: err.message }, 'lobby channel: no board to send');
            socket.terminate();
          },
        );
    },
  );
};

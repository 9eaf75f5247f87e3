import Type, { type Static } from 'typebox';
import { DAY_MS, type Interval, isBookable, openingIntervals } from '../bookings/booking-rules.ts';
import { addDays, fromLocal, toLocal } from '../site/local-time.ts';
import type { SiteConfig, SpaceConfig } from '../site/site.ts';

/**
 * What the lobby screen shows: for every bookable space whether it is free now and until when, whether
 * someone is there (the occupancy sensors) and how the air is (CO2 as a traffic light). Pure: the caller
 * hands in the time, the booked slots and the latest readings; nothing here does I/O.
 *
 * The lobby is public. Bookings enter this module only as bare time slots, so no member id, name, email or
 * booking id can reach what it returns, and LobbySpace below is the complete list of fields that leave it.
 */

/** Traffic light of indoor air: below 1000 ppm good, 1000 to 2000 elevated, above 2000 poor. */
export type Co2Level = 'good' | 'elevated' | 'poor';
export const CO2_ELEVATED_PPM = 1000;
export const CO2_POOR_PPM = 2000;

export function co2Level(ppm: number): Co2Level {
  if (ppm < CO2_ELEVATED_PPM) return 'good';
  if (ppm <= CO2_POOR_PPM) return 'elevated';
  return 'poor';
}

const EpochMsOrNull = Type.Union([Type.Number(), Type.Null()], {
  description: 'epoch ms; null: no end in sight',
});

export const LobbySpace = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    floor: Type.String(),
    kind: Type.String(),
    capacity: Type.Union([Type.Integer(), Type.Null()]),
    parent: Type.Union([Type.String(), Type.Null()], { description: 'the desk area a desk belongs to' }),
    status: Type.Union([Type.Literal('free'), Type.Literal('busy'), Type.Literal('closed')]),
    free: Type.Boolean({ description: 'status is free: bookable now' }),
    freeUntil: Type.Union([Type.Number(), Type.Null()], {
      description:
        'when free: start of the next booking or closing time, epoch ms; null: free for the foreseeable future',
    }),
    busyUntil: EpochMsOrNull,
    occupied: Type.Union([Type.Boolean(), Type.Null()], {
      description: 'someone is there per the occupancy sensors; null: no working sensor',
    }),
    co2Level: Type.Union(
      [Type.Literal('good'), Type.Literal('elevated'), Type.Literal('poor'), Type.Null()],
      {
        description: '< 1000 ppm good, 1000-2000 elevated, > 2000 poor; null: no CO2 sensor',
      },
    ),
    desks: Type.Union(
      [
        Type.Object(
          {
            total: Type.Integer(),
            free: Type.Integer({ description: 'desks free now' }),
            occupied: Type.Integer({ description: 'desks where a sensor sees someone' }),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      { description: 'for a desk area: its bookable desks' },
    ),
  },
  { additionalProperties: false },
);
export type LobbySpace = Static<typeof LobbySpace>;

/** A booked time range of a space: all the lobby ever learns of a booking. */
export interface BookedSlot {
  start: number;
  end: number;
}

/** The newest reading of one device and quantity (what BuildingFeed.latest and store.latest give). */
export interface LobbyReading {
  device: string;
  quantity: string;
  value: number | string;
  ts: number;
}

export interface LobbyInputs {
  site: SiteConfig;
  now: number;
  /** Booked slots per space id (cancelled and released bookings already left out). */
  booked: ReadonlyMap<string, readonly BookedSlot[]>;
  readings: readonly LobbyReading[];
  /** Devices the gateway reports offline: their readings say nothing about now. */
  offline?: ReadonlySet<string>;
  /** How long a reading of a device stays valid; a device not in the map uses defaultFreshMs. */
  freshMs?: ReadonlyMap<string, number>;
  defaultFreshMs?: number;
}

export interface LobbyBoard {
  spaces: LobbySpace[];
  /** The next instant at which the board changes by the passing of time alone; null: never by itself. */
  changesAt: number | null;
}

/** Occupancy sensors report hourly without a change; three missed reports and the reading no longer counts. */
export const DEFAULT_FRESH_MS = 3 * 3_600_000;
/** How far ahead opening hours are expanded; beyond it "free until" is null. */
const LOOKAHEAD_DAYS = 8;

/**
 * The spaces on the lobby screen, in site-file order: every bookable space, and every desk area holding
 * bookable desks (it sums them up for the screen).
 */
export function lobbySpaceIds(site: SiteConfig): string[] {
  // The booking store's rule of what can be booked, so the lobby never offers what cannot be booked.
  const areasWithDesks = new Set(
    site.spaces.filter((s) => isBookable(s) && s.parent !== undefined).map((s) => s.parent),
  );
  return site.spaces
    .filter((s) => isBookable(s) || (s.kind === 'desk_area' && areasWithDesks.has(s.id)))
    .map((s) => s.id);
}

/** The spaces whose lobby entry depends on what happens in `spaceId` (its own, its area's, its desks'). */
export function lobbySpacesAffectedBy(site: SiteConfig, spaceId: string): string[] {
  const shown = new Set(lobbySpaceIds(site));
  const space = site.spaces.find((s) => s.id === spaceId);
  if (!space) return [];
  const out = new Set<string>();
  if (shown.has(space.id)) out.add(space.id);
  if (space.parent !== undefined && shown.has(space.parent)) out.add(space.parent);
  // The area's CO2 sensor speaks for the desks in it.
  for (const child of site.spaces) if (child.parent === space.id && shown.has(child.id)) out.add(child.id);
  return [...out];
}

export function lobbyBoard(inputs: LobbyInputs): LobbyBoard {
  const { site, now } = inputs;
  const byId = new Map(site.spaces.map((s) => [s.id, s]));
  const devicesIn = new Map<string, string[]>();
  for (const d of site.devices) devicesIn.set(d.space, [...(devicesIn.get(d.space) ?? []), d.id]);
  const fresh = freshReadings(inputs);
  const changes: number[] = [...fresh.expiries];

  const single = new Map<string, LobbySpace>();
  const describe = (space: SpaceConfig): LobbySpace => {
    const held = single.get(space.id);
    if (held) return held;
    const when = bookingState(space, inputs.booked.get(space.id) ?? [], site.site.timezone, now);
    changes.push(...when.changesAt);
    const co2 =
      worstCo2(devicesIn.get(space.id) ?? [], fresh) ??
      (space.parent !== undefined ? worstCo2(devicesIn.get(space.parent) ?? [], fresh) : undefined);
    const out: LobbySpace = {
      id: space.id,
      name: space.name,
      floor: space.floor,
      kind: space.kind,
      capacity: space.capacity ?? null,
      parent: space.parent ?? null,
      status: when.status,
      free: when.status === 'free',
      freeUntil: when.freeUntil,
      busyUntil: when.busyUntil,
      occupied: presence(devicesIn.get(space.id) ?? [], fresh),
      co2Level: co2 === undefined ? null : co2Level(co2),
      desks: null,
    };
    single.set(space.id, out);
    return out;
  };

  const spaces = lobbySpaceIds(site).map((id) => {
    const space = byId.get(id) as SpaceConfig;
    const own = describe(space);
    const desks = site.spaces.filter((s) => s.parent === id && isBookable(s)).map(describe);
    if (space.kind !== 'desk_area' || desks.length === 0) return own;
    return summariseArea(space, own, desks);
  });
  const future = changes.filter((t) => t > now);
  return { spaces, changesAt: future.length > 0 ? Math.min(...future) : null };
}

/**
 * A desk area on the screen: free while any of its desks is free (until the last of them is taken), busy
 * until the first desk frees up, closed when the area is closed; occupied when its own sensor or any desk's
 * sensor sees someone.
 */
function summariseArea(area: SpaceConfig, own: LobbySpace, desks: LobbySpace[]): LobbySpace {
  const freeDesks = desks.filter((d) => d.free);
  const occupiedDesks = desks.filter((d) => d.occupied === true).length;
  const sensed = [own.occupied, ...desks.map((d) => d.occupied)].filter((o): o is boolean => o !== null);
  let status: LobbySpace['status'];
  let freeUntil: number | null = null;
  let busyUntil: number | null = null;
  if (own.status === 'closed' && !isBookable(area)) {
    status = 'closed';
    busyUntil = own.busyUntil;
  } else if (freeDesks.length > 0) {
    status = 'free';
    const ends = freeDesks.map((d) => d.freeUntil);
    freeUntil = ends.includes(null) ? null : Math.max(...(ends as number[]));
  } else {
    const allClosed = desks.every((d) => d.status === 'closed');
    status = allClosed ? 'closed' : 'busy';
    const ends = desks.map((d) => d.busyUntil);
    busyUntil = ends.includes(null) ? null : Math.min(...(ends as number[]));
  }
  return {
    ...own,
    status,
    free: status === 'free',
    freeUntil,
    busyUntil,
    occupied: sensed.length === 0 ? null : sensed.includes(true),
    desks: { total: desks.length, free: freeDesks.length, occupied: occupiedDesks },
  };
}

interface FreshReadings {
  occupancy: Map<string, boolean[]>;
  co2: Map<string, number[]>;
  expiries: number[];
}

function freshReadings(inputs: LobbyInputs): FreshReadings {
  const out: FreshReadings = { occupancy: new Map(), co2: new Map(), expiries: [] };
  const defaultFresh = inputs.defaultFreshMs ?? DEFAULT_FRESH_MS;
  for (const r of inputs.readings) {
    if (typeof r.value !== 'number' || !Number.isFinite(r.value)) continue;
    if (inputs.offline?.has(r.device)) continue;
    const expires = r.ts + (inputs.freshMs?.get(r.device) ?? defaultFresh);
    if (expires <= inputs.now) continue;
    if (r.quantity === 'occupancy') {
      out.occupancy.set(r.device, [...(out.occupancy.get(r.device) ?? []), r.value !== 0]);
    } else if (r.quantity === 'co2') {
      out.co2.set(r.device, [...(out.co2.get(r.device) ?? []), r.value]);
    } else continue;
    out.expiries.push(expires);
  }
  return out;
}

function presence(devices: readonly string[], fresh: FreshReadings): boolean | null {
  const seen = devices.flatMap((d) => fresh.occupancy.get(d) ?? []);
  return seen.length === 0 ? null : seen.includes(true);
}

/** Several sensors in one room: the screen shows the worst air, that is what people breathe somewhere in it. */
function worstCo2(devices: readonly string[], fresh: FreshReadings): number | undefined {
  const ppm = devices.flatMap((d) => fresh.co2.get(d) ?? []);
  return ppm.length === 0 ? undefined : Math.max(...ppm);
}

interface BookingState {
  status: LobbySpace['status'];
  freeUntil: number | null;
  busyUntil: number | null;
  changesAt: number[];
}

/**
 * Booked beats closed (a booking that runs past closing time is still someone's room). Busy until the end
 * of the current booking, following bookings that start where the previous one ends; free until the next
 * booking or closing time, whichever is first; closed until the next opening.
 */
export function bookingState(
  space: Pick<SpaceConfig, 'opening_hours'>,
  slots: readonly BookedSlot[],
  timeZone: string,
  now: number,
): BookingState {
  const sorted = slots.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  const current = sorted.filter((s) => s.start <= now && now < s.end);
  if (current.length > 0) {
    let until = Math.max(...current.map((s) => s.end));
    for (const s of sorted) if (s.start <= until && s.end > until) until = s.end;
    return { status: 'busy', freeUntil: null, busyUntil: until, changesAt: [until] };
  }
  const nextBooking = sorted.find((s) => s.start > now)?.start ?? null;
  const open = space.opening_hours ? openIntervals(space.opening_hours, timeZone, now) : null;
  if (open !== null) {
    const openNow = open.find((i) => i.start <= now && now < i.end);
    if (!openNow) {
      const opens = open.find((i) => i.start > now)?.start ?? null;
      const next = [opens, nextBooking].filter((t): t is number => t !== null);
      return { status: 'closed', freeUntil: null, busyUntil: opens, changesAt: next };
    }
    const closes = openNow.end < now + LOOKAHEAD_DAYS * DAY_MS ? openNow.end : null;
    const until = [closes, nextBooking].filter((t): t is number => t !== null);
    const freeUntil = until.length > 0 ? Math.min(...until) : null;
    return { status: 'free', freeUntil, busyUntil: null, changesAt: freeUntil === null ? [] : [freeUntil] };
  }
  return {
    status: 'free',
    freeUntil: nextBooking,
    busyUntil: null,
    changesAt: nextBooking === null ? [] : [nextBooking],
  };
}

type OpeningHours = NonNullable<SpaceConfig['opening_hours']>;

/**
 * The space's opening hours as absolute instants from yesterday to LOOKAHEAD_DAYS ahead, in the site's time
 * zone, as the booking rules read them (so the board never calls open what cannot be booked, and 09:00
 * stays 09:00 across the switch to summer time). Intervals that touch are joined, so a room open until
 * 24:00 and again from 00:00 does not close at midnight.
 */
export function openIntervals(hours: OpeningHours, timeZone: string, now: number): Interval[] {
  const today = toLocal(now, timeZone);
  // Most spaces share their hours and they change once a day: the board is redrawn on every sensor change.
  const key = `${timeZone}|${today.year}-${today.month}-${today.day}|${JSON.stringify(hours)}`;
  const held = openCache.get(key);
  if (held) return held;
  const window = {
    start: fromLocal(addDays(today, -1), 0, timeZone),
    end: fromLocal(addDays(today, LOOKAHEAD_DAYS + 1), 0, timeZone),
  };
  const joined = openingIntervals({ opening_hours: hours }, window, timeZone);
  if (openCache.size >= OPEN_CACHE_LIMIT) openCache.clear();
  openCache.set(key, joined);
  return joined;
}

const openCache = new Map<string, Interval[]>();
const OPEN_CACHE_LIMIT = 1000;

import fs from 'node:fs';
import path from 'node:path';
import { openingIntervals } from '../bookings/booking-rules.ts';
import type { Booking, BookingStore, ImportResult } from '../bookings/booking-store.ts';
import { DEFAULT_EARLY_MS, DEFAULT_GRACE_MS, NO_SHOW_KINDS } from '../bookings/check-in.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { DeviceMessageDecoder } from '../gateway/ingest.ts';
import type { Quarantine } from '../gateway/quarantine.ts';
import { SpooledWriter } from '../gateway/spool.ts';
import { addDays, fromLocal, type LocalDate, toLocal } from '../site/local-time.ts';
import type { DeviceConfig, SiteConfig, SpaceConfig } from '../site/site.ts';
import type { StoredReading, TimeSeriesStore } from '../storage/store.ts';
import {
  type CounterState,
  chance,
  DAY_MS,
  hashKey,
  integrateEnergyWh,
  MAX_STEP_MS,
  occupancyProbability,
  PRESENCE_SLOT_MS,
} from './physics.ts';
import { SimulatedBuilding } from './simulated-building.ts';
import { createVirtualDevice, inServiceCounterWh, type VirtualDevice } from './virtual-devices.ts';

/**
 * History for a fresh demo: `wesprint simulate --backfill 400d` (and the first `wesprint start`) writes
 * what the simulated building would have reported over the past days, so that the board report has a
 * previous period and a year before to compare with.
 *
 * Readings: every virtual device of the live simulator (same classes, same vendor payloads, same
 * building model: occupancy curves, CO2 from people and ventilation, energy counters) reports at each
 * step of simulated time (default 1 h, live devices report every 30–300 s). Its messages are not sent
 * over MQTT: 400 days of 159 devices are about 1.5 million messages, which through the broker would take
 * far longer than the "a minute or two" a first start can afford, and the broker adds nothing to history
 * (no one subscribes to the past). Instead each message takes the gateway's own ingest path in process:
 * the gateway's decode (`decodeMessage` with the site's topic map, so device profiles, units and ranges
 * are the live ones), its quarantine for what does not decode, and its durable write path, a
 * SpooledWriter into the time-series store, with the reading time set to the simulated time. Messages a
 * device sends retained (Nuki, availability) are handled as a live subscriber receives them (retain
 * cleared), so they become readings as they do live.
 *
 * Size: after each simulated day the store rolls that day up (SqliteStore.rollUpHistory, or
 * InfluxV1Store.writeHistory, which takes the day's readings whole: InfluxDB refuses raw points past its
 * retention) and keeps raw readings only within the raw retention, so a year of history is hourly rollups
 * plus 30 days of raw readings;
 * and only the quantities a report or chart looks back on are kept (HISTORY_QUANTITIES): the decoded
 * readings of device health (battery, radio, voltage, …) are dropped after the decode.
 *
 * Meters: the history ends where the live meters start. Each meter's counter at the end of the history
 * (`endCounters`, Wh) is fixed before anything runs (`seamCounters`, cheap and deterministic), the live
 * simulator starts from it (or, later, from the store's last value: `storedCounters`), and the history is
 * computed backwards from it: counter(t) = end − energy(t, end). Where that would fall below zero the
 * meter was rebooted: its counter restarted at 0 there and before it ran on from an in-service value.
 * The seam values are chosen so that exactly one meter does that, the first floor main meter (so that
 * the report's counter-reset handling has something to show); every other counter is continuous.
 *
 * Bookings: desks, meeting rooms and the hall are booked when the simulated presence says someone comes
 * (most of them, not all: walk-ins exist), and now and then nobody comes (a no-show, released a grace
 * after its start); Protel rooms are rented for one to three weeks. A booking is checked in at the first
 * reading instant at which the space's occupancy sensor said someone was there, exactly what the
 * sensor readings written for that instant say. A simulated population books (SIMULATED_MEMBERS in
 * cli/backfill.ts, members who cannot sign in); the three demo members, who sign in, hold only a few past
 * desk bookings each, so the member view shows a clean list. History bookings end before today.
 *
 * Bookings ahead: today and tomorrow belong to the live system, but a fresh demo needs bookings there
 * (the lobby shows what is booked, the live check-in confirms bookings). upcomingBookings lays them out
 * from the same presence model the live sensors follow, all still 'booked': the live watcher checks them
 * in when the sensor sees someone and releases the no-shows. They are written at the end of the history
 * (and by every later `wesprint simulate --backfill`), and the running demo writes them again at its
 * start and every hour (cli/backfill.ts, keepBookingsAhead), so day 3 of a demo has bookings as day 1
 * had. Their ids depend on (seed, space, planned start) and the store refuses overlaps, so writing them
 * again adds only what is new, and a slot a person booked live stays theirs.
 *
 * Idempotent: DATA_DIR/backfill.json records the plan and how far it got; a second run adds nothing,
 * an interrupted one goes on from the last finished day with the same plan. Readings are keyed by
 * (device, quantity, ts) and bookings have ids derived from the plan, so redoing a day changes nothing.
 */

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
/**
 * 13 whole months before the current one and its days so far (at most 31 + 365 + 31): the board report's
 * default period, the last complete month, then has its same month a year earlier complete.
 */
export const DEFAULT_BACKFILL_DAYS = 430;
export const DEFAULT_STEP_MS = HOUR_MS;
export const MIN_SPAN_MS = HOUR_MS;
/** Three years: enough for a year-on-year comparison of last year. */
export const MAX_SPAN_MS = 1096 * DAY_MS;
/** Quarter hours, so that bookings can start at a reading instant; at most an hour, so that presence is seen. */
export const STEP_CHOICES_MS = [15, 30, 45, 60].map((m) => m * MINUTE_MS);

/**
 * The quantities history keeps: what the board report, the history charts and the night base-load alert
 * look back on. The rest (room temperature and humidity, and a device's health: battery, radio link,
 * mains voltage and current, illuminance, lock and door state) matters now, not a year ago; leaving its
 * past out keeps a year of history at a fifth of the series (hourly rollups are ~140 bytes a series-hour).
 */
export const HISTORY_QUANTITIES: ReadonlySet<string> = new Set(['energy', 'power', 'occupancy', 'co2']);

export const METER_PROFILES = ['shelly-gen1', 'shelly-gen2', 'shelly-pro-3em', 'tasmota-energy'];

export class BackfillError extends Error {
  override name = 'BackfillError';
}

/** `400d`, `36h` → ms; the units a person writes for a span of history. */
export function parseSpan(text: string, what = '--backfill'): number {
  const m = /^(\d+)\s*([hd])$/i.exec(text.trim());
  if (!m) throw new BackfillError(`${what} "${text}": write a number of days or hours, e.g. 400d or 36h`);
  const n = Number(m[1]);
  const ms = n * ((m[2] as string).toLowerCase() === 'd' ? DAY_MS : HOUR_MS);
  if (ms < MIN_SPAN_MS || ms > MAX_SPAN_MS)
    throw new BackfillError(`${what} "${text}": between 1h and ${MAX_SPAN_MS / DAY_MS}d`);
  return ms;
}

/** `15m`, `30m`, `1h` → ms. */
export function parseStep(text: string): number {
  const m = /^(\d+)\s*([mh])$/i.exec(text.trim());
  const ms = m ? Number(m[1]) * ((m[2] as string).toLowerCase() === 'h' ? HOUR_MS : MINUTE_MS) : Number.NaN;
  if (!STEP_CHOICES_MS.includes(ms)) throw new BackfillError(`--step "${text}": one of 15m, 30m, 45m, 1h`);
  return ms;
}

// ---------------------------------------------------------------------------------------------------
// The building, as fast as history needs it

/**
 * The same building, answering repeated questions from memory: a history asks the people of a space for
 * every 5-minute step of its 30-minute presence slot, and whether it is open for every step of a year.
 */
export class HistoryBuilding extends SimulatedBuilding {
  private readonly presence = new Map<string, { slot: number; people: number }>();
  /** Per space, open or not by local minute of the week (-1: not asked yet); opening hours are whole minutes. */
  private readonly openByMinute = new Map<string, Int8Array>();
  private readonly floorSpaces = new Map<string, string[]>();

  constructor(site: SiteConfig, seed: string | number = 'kaufhaus') {
    super(site, seed);
    const areas = new Set(site.spaces.filter((s) => s.kind === 'desk' && s.parent).map((s) => s.parent));
    for (const s of site.spaces) {
      if (areas.has(s.id)) continue;
      this.floorSpaces.set(s.floor, [...(this.floorSpaces.get(s.floor) ?? []), s.id]);
    }
  }

  override isSpaceOpen(spaceId: string, ms: number): boolean {
    const t = this.local(ms);
    const minute = (t.weekday - 1) * 1440 + Math.floor(t.hour * 60);
    let week = this.openByMinute.get(spaceId);
    if (week === undefined) {
      week = new Int8Array(7 * 1440).fill(-1);
      this.openByMinute.set(spaceId, week);
    }
    let open = week[minute] as number;
    if (open < 0) {
      open = super.isSpaceOpen(spaceId, ms) ? 1 : 0;
      week[minute] = open;
    }
    return open === 1;
  }

  override peopleOnFloor(floorId: string, ms: number): number {
    let people = 0;
    for (const id of this.floorSpaces.get(floorId) ?? []) people += this.peopleIn(id, ms);
    return people;
  }

  override peopleIn(spaceId: string, ms: number): number {
    const slot = Math.floor(ms / PRESENCE_SLOT_MS);
    const known = this.presence.get(spaceId);
    if (known?.slot === slot) return known.people;
    const people = super.peopleIn(spaceId, ms);
    this.presence.set(spaceId, { slot, people });
    return people;
  }
}

// ---------------------------------------------------------------------------------------------------
// Meters: the seam and the counters

export const isMeter = (device: DeviceConfig) => METER_PROFILES.includes(device.profile);

/** The one meter whose counter restarts in the history: the first floor main meter of the site file. */
export function rebootingMeter(site: SiteConfig): DeviceConfig | undefined {
  return site.devices.find((d) => isMeter(d) && d.meter_role === 'main');
}

/** The most a meter can draw: its base load, everyone it serves at their desks, the lights on. */
function peakPowerW(building: SimulatedBuilding, device: DeviceConfig): number {
  const load = building.meterLoad(device);
  const space = building.space(device.space);
  const served =
    device.meter_role === 'main'
      ? building.site.spaces.filter((s) => s.floor === space.floor && !isArea(building.site, s))
      : [space];
  const people = served.reduce((n, s) => n + (s.kind === 'desk' ? 1 : (s.capacity ?? 0)), 0);
  return load.baseW + load.perPersonW * people + load.lightingW;
}

const isArea = (site: SiteConfig, space: SpaceConfig) => site.spaces.some((s) => s.parent === space.id);

/** Share of its base load × the span that the rebooting meter has counted at the end: the reboot lies within. */
const REBOOT_COUNTER_SHARE = 0.3;

/**
 * Each meter's counter (Wh) at the end of a history of `spanMs`: what the live meters start from. The
 * rebooting meter has counted less than it drew over the span (it must have restarted within it: it
 * draws at least its base load, so the restart lies in the last 30 % of the span); every other meter
 * more than it could possibly have drawn (so its counter never needs to restart).
 */
export function seamCounters(
  site: SiteConfig,
  building: SimulatedBuilding,
  spanMs: number,
): Record<string, number> {
  const reboots = rebootingMeter(site);
  const hours = spanMs / HOUR_MS;
  const out: Record<string, number> = {};
  for (const device of site.devices) {
    if (!isMeter(device)) continue;
    out[device.id] =
      device === reboots
        ? REBOOT_COUNTER_SHARE * building.meterLoad(device).baseW * hours
        : inServiceCounterWh(building, device) + peakPowerW(building, device) * hours;
  }
  return out;
}

/** A meter's counter over the history, at the instants it reports. */
export interface MeterHistory {
  counterAt(t: number): CounterState;
  /** When the counter restarted at 0, if it did within the history. */
  rebootAt: number | undefined;
}

/**
 * Integrates the meters' power over the instants `times` (ascending, the first is the start) up to
 * `end`, as the live meter does (advanceCounter: 5-minute steps, the power at each step's start), all
 * meters step by step together (they ask the building about the same instants), and lays each counter
 * backwards from its end value.
 */
export function meterHistories(
  building: SimulatedBuilding,
  devices: readonly DeviceConfig[],
  times: readonly number[],
  end: number,
  endCounters: Readonly<Record<string, number>>,
): Map<string, MeterHistory> {
  const cums = devices.map(() => new Float64Array(times.length + 1));
  const wh = devices.map(() => 0);
  for (let i = 1; i <= times.length; i++) {
    const from = times[i - 1] as number;
    const to = i < times.length ? (times[i] as number) : end;
    for (let t = from; t < to; ) {
      const next = Math.min(to, t + MAX_STEP_MS);
      devices.forEach((device, k) => {
        wh[k] = integrateEnergyWh(wh[k] as number, building.meterPowerW(device, t), (next - t) / 1000);
      });
      t = next;
    }
    devices.forEach((_, k) => {
      (cums[k] as Float64Array)[i] = wh[k] as number;
    });
  }
  const out = new Map<string, MeterHistory>();
  devices.forEach((device, k) => {
    const endWh = endCounters[device.id];
    if (endWh !== undefined)
      out.set(device.id, layCounter(building, device, times, end, cums[k] as Float64Array, endWh));
  });
  return out;
}

/** counter(t) = endWh − energy(t, end), restarting at 0 where that would fall below zero. */
function layCounter(
  building: SimulatedBuilding,
  device: DeviceConfig,
  times: readonly number[],
  end: number,
  cum: Float64Array,
  endWh: number,
): MeterHistory {
  const total = cum[times.length] as number;
  const first = times[0] ?? end;
  const startedAt = first - 365 * DAY_MS;
  const index = new Map(times.map((t, i) => [t, i]));
  const at = (t: number) => {
    const i = index.get(t);
    if (i === undefined) throw new Error(`meter ${device.id}: no history instant ${t}`);
    return cum[i] as number;
  };
  if (endWh >= total) {
    return {
      counterAt: (t) => ({ wh: endWh - (total - at(t)), startedAt, reboots: 0 }),
      rebootAt: undefined,
    };
  }
  // Walking back from the end, the counter reaches 0 here: the restart.
  const target = total - endWh;
  let k = 0;
  while ((cum[k + 1] as number) <= target) k++;
  const before = cum[k] as number;
  const after = cum[k + 1] as number;
  const stepStart = times[k] as number;
  const stepEnd = k + 1 < times.length ? (times[k + 1] as number) : end;
  const rebootAt = Math.round(stepStart + ((stepEnd - stepStart) * (target - before)) / (after - before));
  const inService = inServiceCounterWh(building, device);
  return {
    rebootAt,
    counterAt: (t) => {
      const c = at(t);
      return t < rebootAt
        ? { wh: inService + c, startedAt, reboots: 0 }
        : { wh: c - target, startedAt: rebootAt, reboots: 1 };
    },
  };
}

/**
 * The counters the live meters go on from: the newest stored energy reading of each meter, in Wh, its
 * channels added up (a 3EM's phases, a Pro 4PM's outputs each count their share of the meter).
 */
export async function storedCounters(
  store: TimeSeriesStore,
  site: SiteConfig,
): Promise<Record<string, number>> {
  const meters = new Set(site.devices.filter(isMeter).map((d) => d.id));
  const out: Record<string, number> = {};
  for (const r of await store.latest({ quantity: 'energy' })) {
    if (meters.has(r.device) && typeof r.value === 'number')
      out[r.device] = (out[r.device] ?? 0) + r.value * 1000;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Bookings

export interface BookingHistoryInput {
  site: SiteConfig;
  seed: string;
  /** Reading instants, ascending: the grid the occupancy sensors reported on. */
  times: readonly number[];
  /** History ends here: every booking ends by the start of that (local) day. */
  end: number;
  /** Did the space's occupancy sensor say someone was there at this reading instant? */
  occupied(spaceId: string, t: number): boolean;
  /** Member ids that book: the simulated population. */
  members: readonly string[];
  /**
   * Members who book only now and then (the demo members, who sign in to show the member view): each
   * gets REGULAR_PAST_BOOKINGS of the last fortnight's checked-in desk bookings, so their list stays short.
   */
  regulars?: readonly string[];
  graceMs?: number;
  earlyMs?: number;
}

/** Share of the people the sensors see at a desk or in a room who had booked it (the rest walked in). */
export const BOOKED_SHARE = 0.75;
/** Chance, relative to the hour's usual occupancy, that a booking is made and nobody comes. */
export const NO_SHOW_SHARE = 0.12;

/** How many past bookings each demo member holds. */
export const REGULAR_PAST_BOOKINGS = 3;

const SESSION_HOURS: Record<string, [number, number]> = {
  desk: [2, 6],
  meeting_room: [1, 3],
  hall: [2, 4],
};

/** A stable booking id for (seed, space, start): UUID-shaped, the same on every run. */
export function historyBookingId(seed: string, spaceId: string, start: number): string {
  const hex = [0, 1, 2, 3]
    .map((k) => hashKey(seed, spaceId, start, k).toString(16).padStart(8, '0'))
    .join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * A booking of `members[k]`, with the id, booker and booking time fixed by (seed, space, start). Bookings
 * ahead take their ids from another key: a Protel rental under way may have begun on the day a history
 * rental began, and must not take that one's id.
 */
function plannedBooking(
  seed: string,
  members: readonly string[],
  spaceId: string,
  start: number,
  stop: number,
  ids: 'history' | 'ahead' = 'history',
): Booking {
  return {
    id: historyBookingId(ids === 'history' ? seed : `${seed}/ahead`, spaceId, start),
    memberId: members[Math.floor(chance(seed, spaceId, start, 'member') * members.length)] as string,
    spaceId,
    start,
    end: stop,
    status: 'booked',
    checkedInAt: null,
    releasedAt: null,
    cancelledAt: null,
    createdAt: start - Math.round(chance(seed, spaceId, start, 'ahead') * 7 * 24) * HOUR_MS - HOUR_MS,
  };
}

/**
 * The bookings of the past, a pure function of the presence the sensors reported. Desks, meeting rooms,
 * the hall: at a reading instant within the opening hours where someone is there and the space is not
 * booked, they had booked it (BOOKED_SHARE of the time) for a few hours and are checked in at that
 * instant; where nobody is there, a booking now and then (NO_SHOW_SHARE × the hour's usual occupancy)
 * was a no-show, released `grace` after its start. Protel rooms are rented for 5–21 days with gaps of
 * 0–4 days, checked in at the first instant the sensor saw the team.
 */
export function historyBookings(input: BookingHistoryInput): Booking[] {
  const { site, seed, times, members } = input;
  const grace = input.graceMs ?? DEFAULT_GRACE_MS;
  const early = input.earlyMs ?? DEFAULT_EARLY_MS;
  if (members.length === 0 || times.length === 0) return [];
  const tz = site.site.timezone || 'Europe/Berlin';
  const from = times[0] as number;
  // Today belongs to the live system: a demo member's "today" shows only what was booked live.
  const end = Math.min(input.end, fromLocal(toLocal(input.end, tz), 0, tz));
  const out: Booking[] = [];
  const booking = (spaceId: string, start: number, stop: number) =>
    plannedBooking(seed, members, spaceId, start, stop);
  const bookable = site.spaces.filter((s) => s.bookable === true);

  for (const space of bookable.filter((s) => s.kind in SESSION_HOURS)) {
    const open = openingIntervals(space, { start: from, end }, tz);
    const [minH, maxH] = SESSION_HOURS[space.kind] as [number, number];
    let busyUntil = Number.NEGATIVE_INFINITY;
    let o = 0;
    for (const t of times) {
      if (t < busyUntil || t % (15 * MINUTE_MS) !== 0) continue;
      while (o < open.length && (open[o] as { end: number }).end <= t) o++;
      const interval = open[o];
      if (!interval || interval.start > t) continue;
      const hours = minH + Math.floor(chance(seed, space.id, t, 'hours') * (maxH - minH + 1));
      const stop = Math.min(t + hours * HOUR_MS, interval.end, end);
      if (stop <= t) continue;
      if (input.occupied(space.id, t)) {
        if (chance(seed, space.id, t, 'booked') >= BOOKED_SHARE) continue;
        out.push({ ...booking(space.id, t, stop), status: 'checked_in', checkedInAt: t });
        busyUntil = stop;
      } else {
        const local = toLocal(t, tz);
        const usual = occupancyProbability(space.kind, local.weekday, local.hour);
        if (chance(seed, space.id, t, 'no-show') >= usual * NO_SHOW_SHARE) continue;
        if (!NO_SHOW_KINDS.includes(space.kind)) continue;
        // Nobody within [start − early, start + grace]: the sensor's readings in that window all say empty.
        if (seenAround(times, t, early, grace, (x) => input.occupied(space.id, x))) continue;
        out.push({ ...booking(space.id, t, stop), status: 'released', releasedAt: t + grace });
      }
    }
  }

  for (const space of bookable.filter((s) => s.kind === 'protel')) {
    let day: LocalDate = toLocal(from, tz);
    for (let n = 0; ; n++) {
      const gap = Math.floor(chance(seed, space.id, n, 'gap') * 5);
      const length = 5 + Math.floor(chance(seed, space.id, n, 'length') * 17);
      const first = addDays(day, gap);
      day = addDays(first, length);
      const start = fromLocal(first, 0, tz);
      const stop = fromLocal(day, 0, tz);
      if (stop > end) break;
      if (start < from) continue;
      const seen = times.find((t) => t >= start - early && t < stop && input.occupied(space.id, t));
      const b = booking(space.id, start, stop);
      out.push(seen === undefined ? b : { ...b, status: 'checked_in', checkedInAt: seen });
    }
  }
  giveToRegulars(out, input.regulars ?? [], seed, end, site);
  return out.sort((a, b) => a.start - b.start || (a.spaceId < b.spaceId ? -1 : 1));
}

/**
 * Hands each regular REGULAR_PAST_BOOKINGS of the checked-in desk bookings of the fortnight before `end`,
 * picked by chance, none overlapping another of theirs (one person sits at one desk at a time).
 */
function giveToRegulars(
  bookings: Booking[],
  regulars: readonly string[],
  seed: string,
  end: number,
  site: SiteConfig,
): void {
  if (regulars.length === 0) return;
  const desks = new Set(site.spaces.filter((s) => s.kind === 'desk').map((s) => s.id));
  const candidates = bookings
    .filter((b) => desks.has(b.spaceId) && b.status === 'checked_in' && b.start >= end - 14 * DAY_MS)
    .sort((a, b) => chance(seed, a.id, 'regular') - chance(seed, b.id, 'regular'));
  const held = new Map<string, Booking[]>(regulars.map((r) => [r, []]));
  for (const b of candidates) {
    const regular = regulars.find((r) => {
      const theirs = held.get(r) as Booking[];
      return (
        theirs.length < REGULAR_PAST_BOOKINGS && theirs.every((x) => x.end <= b.start || b.end <= x.start)
      );
    });
    if (regular === undefined) continue;
    b.memberId = regular;
    (held.get(regular) as Booking[]).push(b);
    if ([...held.values()].every((h) => h.length >= REGULAR_PAST_BOOKINGS)) return;
  }
}

export interface UpcomingBookingsInput {
  site: SiteConfig;
  seed: string;
  /** The time now: today's bookings start at the quarter hour under way (as the booking rules allow) or later. */
  now: number;
  /** Bookings start before this; default the end of tomorrow (local). */
  until?: number;
  /** Will the space's occupancy sensor see someone at this instant? (the building model says) */
  occupied(spaceId: string, t: number): boolean;
  /** Member ids that book: the simulated population. */
  members: readonly string[];
  graceMs?: number;
  earlyMs?: number;
}

/** 1 January 2024, a Monday: Protel rentals of the live days are laid from here, the same on every run. */
const RENTALS_FROM: LocalDate = { year: 2024, month: 1, day: 1 };

/**
 * The bookings ahead: for the rest of today and tomorrow, what the simulated population books, from the
 * same presence model the live occupancy sensors follow, all still 'booked' (the live check-in watcher
 * checks them in when the sensor sees someone, or releases them as no-shows). Desks, meeting rooms and
 * the hall: each local day is laid out from its opening as the history does (at a presence slot where
 * someone will be there, a booking of a few hours, BOOKED_SHARE of the time; where nobody will come in
 * [start − early, start + grace], now and then a booking nobody turns up for); Protel rentals run on a
 * chain from a fixed date. A booking already under way at the quarter hour that has begun starts there (the
 * booking rules accept it, and the lobby of a fresh demo is busy at once), if
 * someone is there then, else it is left out. Ids depend on (seed, space, planned start), so running
 * this again (an hour later, on the next start) adds only what is new.
 */
export function upcomingBookings(input: UpcomingBookingsInput): Booking[] {
  const { site, seed, members } = input;
  if (members.length === 0) return [];
  const grace = input.graceMs ?? DEFAULT_GRACE_MS;
  const early = input.earlyMs ?? DEFAULT_EARLY_MS;
  const tz = site.site.timezone || 'Europe/Berlin';
  const quarter = 15 * MINUTE_MS;
  const from = Math.floor(input.now / quarter) * quarter;
  const today = toLocal(input.now, tz);
  const dayStart = fromLocal(today, 0, tz);
  const until = input.until ?? fromLocal(addDays(today, 2), 0, tz);
  const out: Booking[] = [];
  // A rental under way goes on whoever is in the room now; a session only if someone is there.
  const keep = (b: Booking, underWay: 'always' | 'if-seen') => {
    if (b.end <= from || b.start >= until) return;
    const createdAt = Math.min(input.now, b.createdAt);
    if (b.start >= from) out.push({ ...b, createdAt });
    else if (underWay === 'always' || input.occupied(b.spaceId, from))
      out.push({ ...b, start: from, createdAt });
  };
  const bookable = site.spaces.filter((s) => s.bookable === true);

  for (const space of bookable.filter((s) => s.kind in SESSION_HOURS)) {
    const open = openingIntervals(space, { start: dayStart, end: until }, tz);
    const [minH, maxH] = SESSION_HOURS[space.kind] as [number, number];
    for (const interval of open) {
      let busyUntil = Number.NEGATIVE_INFINITY;
      const first = Math.ceil(Math.max(interval.start, dayStart) / PRESENCE_SLOT_MS) * PRESENCE_SLOT_MS;
      for (let t = first; t < Math.min(interval.end, until); t += PRESENCE_SLOT_MS) {
        if (t < busyUntil) continue;
        const hours = minH + Math.floor(chance(seed, space.id, t, 'hours') * (maxH - minH + 1));
        const stop = Math.min(t + hours * HOUR_MS, interval.end);
        const b = plannedBooking(seed, members, space.id, t, stop, 'ahead');
        if (input.occupied(space.id, t)) {
          if (chance(seed, space.id, t, 'booked') >= BOOKED_SHARE) continue;
        } else {
          const local = toLocal(t, tz);
          const usual = occupancyProbability(space.kind, local.weekday, local.hour);
          if (chance(seed, space.id, t, 'no-show') >= usual * NO_SHOW_SHARE) continue;
          if (!NO_SHOW_KINDS.includes(space.kind)) continue;
          if (input.occupied(space.id, t - early) || input.occupied(space.id, t + grace)) continue;
        }
        // A no-show holds the space until it is released: the next booking comes after it either way.
        busyUntil = stop;
        keep(b, 'if-seen');
      }
    }
  }

  for (const space of bookable.filter((s) => s.kind === 'protel')) {
    let day: LocalDate = RENTALS_FROM;
    for (let n = 0; ; n++) {
      const gap = Math.floor(chance(seed, space.id, n, 'rental-gap') * 5);
      const length = 5 + Math.floor(chance(seed, space.id, n, 'rental-length') * 17);
      const first = addDays(day, gap);
      day = addDays(first, length);
      const start = fromLocal(first, 0, tz);
      if (start >= until) break;
      keep(plannedBooking(seed, members, space.id, start, fromLocal(day, 0, tz), 'ahead'), 'always');
    }
  }
  return out.sort((a, b) => a.start - b.start || (a.spaceId < b.spaceId ? -1 : 1));
}

/** Is there a reading instant other than `t` within [t − before, t + after] at which `seen` holds? */
function seenAround(
  times: readonly number[],
  t: number,
  before: number,
  after: number,
  seen: (x: number) => boolean,
): boolean {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((times[mid] as number) < t - before) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < times.length && (times[i] as number) <= t + after; i++) {
    const x = times[i] as number;
    if (x !== t && seen(x)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------
// The plan, the marker, the run

export interface BackfillPlan {
  version: 1;
  seed: string;
  /** The history ends here (exclusive): where the live simulator starts. */
  end: number;
  spanMs: number;
  stepMs: number;
  /** Each meter's counter at `end`, Wh: the live meters start from these. */
  endCounters: Record<string, number>;
}

export interface BackfillMarker {
  plan: BackfillPlan;
  /** Readings are written (and rolled up) up to here. */
  doneUntil: number;
  bookingsDone: boolean;
  finishedAt: number | null;
}

export function markerFile(dataDir: string): string {
  return path.join(dataDir, 'backfill.json');
}

export function readMarker(dataDir: string): BackfillMarker | undefined {
  const file = markerFile(dataDir);
  if (!fs.existsSync(file)) return undefined;
  try {
    const marker = JSON.parse(fs.readFileSync(file, 'utf8')) as BackfillMarker;
    if (marker?.plan?.version !== 1) throw new Error('not a backfill plan');
    return marker;
  } catch (err) {
    throw new BackfillError(
      `${file} is not readable (${(err as Error).message}); remove it to start the history anew`,
    );
  }
}

export function writeMarker(dataDir: string, marker: BackfillMarker): void {
  const file = markerFile(dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(marker, null, 2)}\n`);
  fs.renameSync(tmp, file);
}

export function planBackfill(
  site: SiteConfig,
  options: { spanMs: number; stepMs?: number; end?: number; seed?: string },
): BackfillPlan {
  const seed = options.seed ?? 'kaufhaus';
  return {
    version: 1,
    seed,
    end: options.end ?? Date.now(),
    spanMs: options.spanMs,
    stepMs: options.stepMs ?? DEFAULT_STEP_MS,
    endCounters: seamCounters(site, new SimulatedBuilding(site, seed), options.spanMs),
  };
}

/** The reading instants of a plan: whole steps (epoch-aligned) within [end − span, end). */
export function historyTimes(plan: Pick<BackfillPlan, 'end' | 'spanMs' | 'stepMs'>): number[] {
  const times: number[] = [];
  for (
    let t = Math.ceil((plan.end - plan.spanMs) / plan.stepMs) * plan.stepMs;
    t < plan.end;
    t += plan.stepMs
  )
    times.push(t);
  return times;
}

export interface BackfillProgress {
  phase: 'meters' | 'readings' | 'bookings' | 'rollups' | 'done';
  daysDone: number;
  days: number;
  readings: number;
  readingsPerSecond: number;
}

export interface BackfillOptions {
  site: SiteConfig;
  profiles: Map<string, DeviceProfile>;
  plan: BackfillPlan;
  /** Where the progress is kept (DATA_DIR): backfill.json. */
  dataDir: string;
  store: TimeSeriesStore;
  quarantine: Quarantine;
  /** The SpooledWriter's directory; one writer per directory, so not the live gateway's. */
  spoolDir: string;
  /**
   * Where the bookings go and who makes them (the simulated population; the demo members as regulars
   * with a few past bookings); without, only readings are written.
   */
  bookings?: { store: BookingStore; members: readonly string[]; regulars?: readonly string[] };
  signal?: AbortSignal;
  progress?: (p: BackfillProgress) => void;
  /** The time now, for the store's maintenance at the end (tests choose it); default the clock. */
  now?: () => number;
}

export interface BackfillReport {
  /** Nothing done: the marker says the history is complete. */
  alreadyDone: boolean;
  /** Stopped by the signal before the end (goes on next time). */
  interrupted: boolean;
  messages: number;
  readings: number;
  quarantined: number;
  bookings: ImportResult;
  /** Bookings for the rest of today and tomorrow. */
  ahead: ImportResult;
  /** The meter reboot laid into the history. */
  reboot: { device: string; at: number } | undefined;
  from: number;
  end: number;
  seconds: number;
}

/**
 * What the stores offer for history. SqliteStore takes the readings through the spool like live ones and
 * rolls each chunk up from its own table (rollUpHistory); InfluxV1Store takes a chunk's readings whole
 * (writeHistory), since InfluxDB refuses raw points past its retention and the rollups of those hours
 * can only come from the readings themselves.
 */
type HistoryStore = TimeSeriesStore & {
  rollUpHistory?(from: number, to: number, now?: number): Promise<number>;
  writeHistory?(readings: readonly StoredReading[], from: number, to: number, now: number): Promise<number>;
  maintain?(now?: number): Promise<unknown>;
};

export async function runBackfill(options: BackfillOptions): Promise<BackfillReport> {
  const started = performance.now();
  const { site, profiles, plan } = options;
  const store = options.store as HistoryStore;
  const times = historyTimes(plan);
  const report: BackfillReport = {
    alreadyDone: false,
    interrupted: false,
    messages: 0,
    readings: 0,
    quarantined: 0,
    bookings: { added: 0, existing: 0, refused: 0 },
    ahead: { added: 0, existing: 0, refused: 0 },
    reboot: undefined,
    from: times[0] ?? plan.end,
    end: plan.end,
    seconds: 0,
  };
  const kept = readMarker(options.dataDir);
  const same = kept !== undefined && JSON.stringify(kept.plan) === JSON.stringify(plan);
  if (same && kept.finishedAt !== null) return { ...report, alreadyDone: true };
  const marker: BackfillMarker = same
    ? kept
    : { plan, doneUntil: report.from, bookingsDone: false, finishedAt: null };
  writeMarker(options.dataDir, marker);

  const stepsPerDay = Math.max(1, Math.round(DAY_MS / plan.stepMs));
  const days = Math.ceil(times.length / stepsPerDay);
  const progress = (phase: BackfillProgress['phase'], daysDone: number) => {
    const seconds = (performance.now() - started) / 1000;
    options.progress?.({
      phase,
      daysDone,
      days,
      readings: report.readings,
      readingsPerSecond: seconds > 0 ? Math.round(report.readings / seconds) : 0,
    });
  };

  const building = new HistoryBuilding(site, plan.seed);
  progress('meters', 0);
  const meters = meterHistories(building, site.devices.filter(isMeter), times, plan.end, plan.endCounters);
  for (const [device, history] of meters) {
    if (history.rebootAt !== undefined) report.reboot = { device, at: history.rebootAt };
  }

  let first = times.findIndex((t) => t >= marker.doneUntil);
  if (first < 0) first = times.length;
  if (first < times.length) {
    const devices: { device: VirtualDevice; every: number }[] = [];
    for (const config of site.devices) {
      const meter = meters.get(config.id);
      const device = createVirtualDevice(config, building, times[first] as number, {
        rebootProbabilityPerDay: 0,
        ...(meter ? { counterAt: meter.counterAt } : {}),
      });
      if (!device) continue;
      devices.push({
        device,
        every: Math.max(1, Math.round((device.firmwareIntervalS * 1000) / plan.stepMs)),
      });
    }
    const decoder = new DeviceMessageDecoder(site, profiles, options.quarantine);
    const writer = new SpooledWriter({ store, dir: options.spoolDir });
    const chunkReadings: StoredReading[] | undefined = store.writeHistory ? [] : undefined;
    const ingest = (topic: string, text: string, at: number) => {
      report.messages++;
      const decoded = decoder.decode(topic, Buffer.from(text), at);
      if (decoded.outcome === 'quarantined') report.quarantined++;
      if (decoded.outcome !== 'decoded') return;
      for (const r of decoded.readings) {
        if (!HISTORY_QUANTITIES.has(r.quantity)) continue;
        if (chunkReadings) chunkReadings.push(r);
        else writer.add(r);
        report.readings++;
      }
    };
    try {
      for (let chunk = first; chunk < times.length; chunk += stepsPerDay) {
        if (options.signal?.aborted) {
          report.interrupted = true;
          break;
        }
        const last = Math.min(times.length, chunk + stepsPerDay);
        for (let i = chunk; i < last; i++) {
          const t = times[i] as number;
          for (const { device, every } of devices) {
            if (i !== first && i % every !== 0) continue;
            const messages = i === first ? device.birth(t) : device.report(t);
            for (const m of messages) ingest(m.topic, m.payload, t);
          }
        }
        const to = last < times.length ? (times[last] as number) : plan.end;
        if (chunkReadings) {
          await store.writeHistory?.(chunkReadings.splice(0), times[chunk] as number, to, plan.end);
        } else {
          await writer.drained();
          await store.rollUpHistory?.(times[chunk] as number, to, plan.end);
        }
        // The store answers in microtasks: without a real turn of the event loop, no signal would get through.
        await new Promise<void>((resolve) => setImmediate(resolve));
        marker.doneUntil = to;
        writeMarker(options.dataDir, marker);
        progress('readings', Math.ceil(last / stepsPerDay));
      }
    } finally {
      await writer.close();
    }
  }

  if (!report.interrupted && options.bookings && !marker.bookingsDone) {
    progress('bookings', days);
    const sensors = new Map<string, DeviceConfig[]>();
    for (const d of site.devices) {
      if (!profiles.get(d.profile)?.quantities.includes('occupancy')) continue;
      sensors.set(d.space, [...(sensors.get(d.space) ?? []), d]);
    }
    // What the occupancy sensors of the space reported at that instant (the same model call they make).
    const occupied = (spaceId: string, t: number) =>
      (sensors.get(spaceId) ?? []).some((d) => building.peopleIn(d.space, t) > 0);
    const bookings = historyBookings({
      site,
      seed: plan.seed,
      times,
      end: plan.end,
      occupied,
      members: options.bookings.members,
      ...(options.bookings.regulars ? { regulars: options.bookings.regulars } : {}),
    });
    // Newest first: each overlap check then meets only the few bookings after it, not the whole past.
    bookings.reverse();
    for (let i = 0; i < bookings.length; i += 2000) {
      const r = options.bookings.store.importBookings(bookings.slice(i, i + 2000));
      report.bookings.added += r.added;
      report.bookings.existing += r.existing;
      report.bookings.refused += r.refused;
    }
    marker.bookingsDone = true;
    writeMarker(options.dataDir, marker);
  }

  const now = options.now ?? Date.now;
  if (!report.interrupted && options.bookings) {
    report.ahead = writeUpcomingBookings({
      site,
      seed: plan.seed,
      now: now(),
      store: options.bookings.store,
      members: options.bookings.members,
      building,
    });
  }

  if (!report.interrupted) {
    progress('rollups', days);
    await store.maintain?.(now());
    marker.finishedAt = now();
    writeMarker(options.dataDir, marker);
    progress('done', days);
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

/**
 * Writes upcomingBookings into the store, through its no-overlap rule (a slot someone booked live stays
 * theirs: the simulated booking is refused). Ids are stable, so writing again adds only what is new.
 */
export function writeUpcomingBookings(options: {
  site: SiteConfig;
  seed: string;
  now: number;
  store: BookingStore;
  members: readonly string[];
  building?: SimulatedBuilding;
}): ImportResult {
  const building = options.building ?? new SimulatedBuilding(options.site, options.seed);
  const bookings = upcomingBookings({
    site: options.site,
    seed: options.seed,
    now: options.now,
    members: options.members,
    occupied: (spaceId, t) => building.peopleIn(spaceId, t) > 0,
  });
  return options.store.importBookings(bookings);
}

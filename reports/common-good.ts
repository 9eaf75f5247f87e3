import { freeSlots, type Interval, mergeIntervals } from '../bookings/booking-rules.ts';
import type { SpaceConfig } from '../site/site.ts';
import { share } from './board-figures.ts';
import { intersect } from './space-use.ts';

/**
 * The common-good report's arithmetic (pure): what the house gave the town in a period, and how much of
 * it the paid spaces carried.
 *
 * - Free public hours of a public space (one with `public_hours` in the site file, the discourse space):
 *   its public opening hours, less the time it was booked for something that is not a public event (a
 *   members' meeting, a private booking), plus the time of its public events (evening events outside the
 *   opening hours count too).
 * - The share of opening hours open to the public: of the space's opening hours, the free public hours
 *   within them.
 * - Events held and people reached: public event dates that began in the period and have ended; people
 *   reached per date is the organiser's count when given, else the sign-ups; a date whose space has an
 *   occupancy sensor is confirmed when the sensor saw someone during it (it says that and for how long,
 *   not how many). Never a name: only counts enter here.
 * - The discourse space has no meter. Its energy is its allocated share of the main meters by the rule
 *   area × hours used: every space that is not inside another (a desk is counted in its desk area)
 *   weighs area_m2 × the hours it was used in the period, and the public space's energy is the main
 *   meters' energy × its weight / the sum of the weights. Hours used: a public space's booked and free
 *   public hours (their union); another bookable space's booked hours (active bookings, no-shows that
 *   were released and cancelled ones left out); a space that is not bookable its opening hours, or the
 *   whole period without any (technical rooms, stairs).
 * - Its cost is that energy at the site file's tariff (`energy_eur_per_kwh`); the paid spaces' booked
 *   hours are valued at the site file's `hour_prices_eur` (desks, Protel rooms, …); the share of the cost
 *   they carried is min(value, cost) / cost.
 */

const HOUR_MS = 3_600_000;

/** The free public time of one public space within `range`, merged. */
export function freePublicTime(
  publicHours: readonly Interval[],
  publicEvents: readonly Interval[],
  otherBookings: readonly Interval[],
  range: Interval,
): Interval[] {
  const open = freeSlots(publicHours, otherBookings, range);
  const events = publicEvents.map((e) => ({
    start: Math.max(e.start, range.start),
    end: Math.min(e.end, range.end),
  }));
  return mergeIntervals([...open, ...events]);
}

/** One public event date as the report counts it: counts only, never who. */
export interface EventAttendance {
  start: number;
  end: number;
  /** Places signed up for (with or without an e-mail address); null: nobody kept a count. */
  signUps: number | null;
  /** How many came, as the organiser entered it after the event; null: not entered. */
  attended: number | null;
  /** Hours of the date in which the occupancy sensor saw someone; null: the space has no sensor. */
  usedHours: number | null;
}

export interface EventsReached {
  /** Public event dates that began within the period and have ended. */
  held: number;
  /** Of those, dates the occupancy sensor saw used. */
  confirmed: number;
  /** Of those, dates in a space with a sensor that saw nobody. */
  unconfirmed: number;
  /** Sum of the sign-ups of the dates that have any. */
  signUps: number;
  /** Sum of the organisers' counts of the dates that have one. */
  attended: number;
  /** Per date the organiser's count, else the sign-ups; dates with neither add nothing. */
  peopleReached: number;
  /** Dates with neither a count nor sign-ups. */
  withoutCount: number;
}

/** The public event dates of a period, counted: `range` is the period up to now. */
export function eventsReached(dates: readonly EventAttendance[], range: Interval): EventsReached {
  const held = dates.filter((d) => d.start >= range.start && d.start < range.end && d.end <= range.end);
  const out: EventsReached = {
    held: held.length,
    confirmed: 0,
    unconfirmed: 0,
    signUps: 0,
    attended: 0,
    peopleReached: 0,
    withoutCount: 0,
  };
  for (const d of held) {
    if (d.usedHours !== null) {
      if (d.usedHours > 0) out.confirmed++;
      else out.unconfirmed++;
    }
    if (d.signUps !== null) out.signUps += d.signUps;
    if (d.attended !== null) out.attended += d.attended;
    const reached = d.attended ?? d.signUps;
    if (reached === null) out.withoutCount++;
    else out.peopleReached += reached;
  }
  return out;
}

/** Hours (epoch ms of their start) with presence that overlap [start, end): how long a date was seen used. */
export function presentHoursDuring(present: ReadonlySet<number>, date: Interval): number {
  let n = 0;
  for (let h = Math.floor(date.start / HOUR_MS) * HOUR_MS; h < date.end; h += HOUR_MS)
    if (present.has(h)) n++;
  return n;
}

/** One space's weight in the allocation of the main meters' energy. */
export interface SpaceWeight {
  spaceId: string;
  kind: string;
  areaM2: number;
  /** Hours used in the period, ms. */
  usedMs: number;
}

/** The spaces that weigh in the allocation: every space not inside another (a desk is in its desk area). */
export function weighedSpaces(spaces: readonly SpaceConfig[]): SpaceConfig[] {
  return spaces.filter((s) => s.parent === undefined);
}

/**
 * The time a space was used, for the allocation: a bookable space's active bookings, any other space's
 * opening hours (`open`: openingIntervals, the whole range for a space without any). A public space adds
 * its free public time to its bookings (the caller passes both as `activeBookings`).
 */
export function usedTime(
  space: Pick<SpaceConfig, 'kind'> & { bookable: boolean },
  activeBookings: readonly Interval[],
  open: readonly Interval[],
  range: Interval,
): Interval[] {
  if (space.bookable) return clip(activeBookings, range);
  return intersect(mergeIntervals(open), [range]);
}

export function clip(intervals: readonly Interval[], range: Interval): Interval[] {
  return mergeIntervals(
    intervals.map((i) => ({ start: Math.max(i.start, range.start), end: Math.min(i.end, range.end) })),
  );
}

/** The public space's share (0..1) of the energy by area × hours used; null when nothing was used at all. */
export function allocationShare(
  weights: readonly SpaceWeight[],
  spaceIds: ReadonlySet<string>,
): number | null {
  let all = 0;
  let mine = 0;
  for (const w of weights) {
    const weight = w.areaM2 * (w.usedMs / HOUR_MS);
    all += weight;
    if (spaceIds.has(w.spaceId)) mine += weight;
  }
  return share(mine, all);
}

/** Booked hours of the paid kinds, valued at their prices. */
export interface PaidHours {
  kind: string;
  bookedMs: number;
  /** EUR per hour from the site file. */
  priceEur: number;
  valueEur: number;
}

export function paidHours(
  bookedByKind: ReadonlyMap<string, number>,
  prices: Readonly<Record<string, number | undefined>>,
): PaidHours[] {
  const out: PaidHours[] = [];
  for (const [kind, price] of Object.entries(prices)) {
    if (price === undefined) continue;
    const bookedMs = bookedByKind.get(kind) ?? 0;
    out.push({ kind, bookedMs, priceEur: price, valueEur: (bookedMs / HOUR_MS) * price });
  }
  return out;
}

/** What the report measured in one period. */
export interface CommonGoodMeasures {
  freePublicMs: number;
  /** The public spaces' opening hours in the period. */
  openMs: number;
  /** Free public time within the opening hours. */
  publicWithinOpenMs: number;
  events: EventsReached;
  /** kWh of the main meters; null without data. */
  buildingEnergyKwh: number | null;
  /** The public spaces' share of it (allocationShare). */
  allocation: number | null;
  /** EUR/kWh from the site file; null: none given. */
  tariffEurPerKwh: number | null;
  /** Value of the paid spaces' booked hours; null: the site file gives no prices. */
  paidValueEur: number | null;
  /** False when the period ended before the first booking on record: booked hours are unknown, not zero. */
  bookingsKnown: boolean;
}

export const COMMON_GOOD_FIGURE_KEYS = [
  'freePublicHours',
  'publicShareOfOpening',
  'eventsHeld',
  'eventsConfirmed',
  'peopleReached',
  'signUps',
  'attendedCounted',
  'publicSpaceEnergyKwh',
  'publicSpaceCostEur',
  'paidHoursValueEur',
  'costCarriedShare',
] as const;
export type CommonGoodFigureKey = (typeof COMMON_GOOD_FIGURE_KEYS)[number];

export const COMMON_GOOD_UNITS: Record<CommonGoodFigureKey, string> = {
  freePublicHours: 'h',
  publicShareOfOpening: 'ratio',
  eventsHeld: 'count',
  eventsConfirmed: 'count',
  peopleReached: 'count',
  signUps: 'count',
  attendedCounted: 'count',
  publicSpaceEnergyKwh: 'kWh',
  publicSpaceCostEur: 'EUR',
  paidHoursValueEur: 'EUR',
  costCarriedShare: 'ratio',
};

/** The figures of one period, unrounded; null where a figure cannot be known. */
export function commonGoodFigures(m: CommonGoodMeasures): Record<CommonGoodFigureKey, number | null> {
  const known = (n: number) => (m.bookingsKnown ? n : null);
  const energy =
    m.buildingEnergyKwh === null || m.allocation === null ? null : m.buildingEnergyKwh * m.allocation;
  const cost = energy === null || m.tariffEurPerKwh === null ? null : energy * m.tariffEurPerKwh;
  const value = m.paidValueEur === null ? null : known(m.paidValueEur);
  return {
    freePublicHours: m.freePublicMs / HOUR_MS,
    publicShareOfOpening: share(m.publicWithinOpenMs, m.openMs),
    eventsHeld: m.events.held,
    eventsConfirmed: m.events.confirmed,
    peopleReached: m.events.peopleReached,
    signUps: m.events.signUps,
    attendedCounted: m.events.attended,
    publicSpaceEnergyKwh: energy,
    publicSpaceCostEur: cost,
    paidHoursValueEur: value,
    costCarriedShare: value === null || cost === null ? null : share(Math.min(value, cost), cost),
  };
}

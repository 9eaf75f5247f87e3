import { type Interval, mergeIntervals, openingIntervals } from '../bookings/booking-rules.ts';
import type { BookingStatus } from '../bookings/booking-store.ts';
import { NO_SHOW_KINDS } from '../bookings/check-in.ts';
import type { SpaceConfig } from '../site/site.ts';

/**
 * Use of space for the board: how much of the bookable spaces' opening hours was booked, how much of the
 * booked time people really came (checked in by the sensors), and how often nobody came at all.
 */

export interface BookingSpan {
  start: number;
  end: number;
  status: BookingStatus;
}

export interface SpaceUse {
  spaceId: string;
  kind: string;
  /** Opening hours of the space within the range, ms. */
  availableMs: number;
  /** Time booked (not cancelled, no-shows included) within the range and the opening hours, ms. */
  bookedMs: number;
  /** Of bookedMs, the time of bookings the sensors checked in. */
  usedMs: number;
  /**
   * bookedMs where a sensor could check in at all (the space has an occupancy sensor); 0 otherwise, so
   * that a space without a sensor does not count as booked and never used.
   */
  checkableBookedMs: number;
  /** usedMs where a sensor could check in (0 otherwise), the numerator to checkableBookedMs. */
  checkableUsedMs: number;
  /** Bookings (not cancelled) starting within the range where a no-show is detected and released. */
  started: number;
  /** Of those, released as no-shows. */
  released: number;
}

/** Total length of intervals (assumed not overlapping). */
export function totalMs(intervals: readonly Interval[]): number {
  return intervals.reduce((sum, i) => sum + (i.end - i.start), 0);
}

/** What of `a` lies within `b`; both merged (sorted, not overlapping). */
export function intersect(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let j = 0;
  for (const x of a) {
    while (j < b.length && (b[j] as Interval).end <= x.start) j++;
    for (let k = j; k < b.length && (b[k] as Interval).start < x.end; k++) {
      const y = b[k] as Interval;
      const start = Math.max(x.start, y.start);
      const end = Math.min(x.end, y.end);
      if (end > start) out.push({ start, end });
    }
  }
  return out;
}

function clipped(spans: readonly BookingSpan[], range: Interval): Interval[] {
  return mergeIntervals(
    spans.map((s) => ({ start: Math.max(s.start, range.start), end: Math.min(s.end, range.end) })),
  );
}

/** The opening hours of a space within `range` (the same for every space with the same opening hours). */
export function openWithin(
  space: Pick<SpaceConfig, 'opening_hours'>,
  range: Interval,
  timeZone: string,
): Interval[] {
  return intersect(openingIntervals(space, range, timeZone), [range]);
}

/**
 * The use of one space within `range` from its bookings (any that overlap the range; others are ignored)
 * and its opening hours within the range (openWithin).
 * Booked time is the union of the bookings, so a no-show's slot booked again is not counted twice, and it
 * is cut to the opening hours (bookings outside them are refused anyway; this keeps the share ≤ 1 when the
 * opening hours in the site file were shortened later).
 */
export function spaceUse(
  space: SpaceConfig,
  bookings: readonly BookingSpan[],
  range: Interval,
  open: readonly Interval[],
  sensed: boolean,
): SpaceUse {
  const held = bookings.filter((b) => b.status !== 'cancelled');
  const booked = intersect(clipped(held, range), open);
  const used = intersect(
    clipped(
      held.filter((b) => b.status === 'checked_in'),
      range,
    ),
    open,
  );
  const releasable = sensed && NO_SHOW_KINDS.includes(space.kind);
  const started = releasable ? held.filter((b) => b.start >= range.start && b.start < range.end) : [];
  const bookedMs = totalMs(booked);
  const usedMs = totalMs(used);
  return {
    spaceId: space.id,
    kind: space.kind,
    availableMs: totalMs(open),
    bookedMs,
    usedMs,
    checkableBookedMs: sensed ? bookedMs : 0,
    checkableUsedMs: sensed ? usedMs : 0,
    started: started.length,
    released: started.filter((b) => b.status === 'released').length,
  };
}

/** Adds up spaces' use (per kind, or the whole building). */
export function sumSpaceUse(uses: readonly SpaceUse[]): Omit<SpaceUse, 'spaceId' | 'kind'> {
  const sum = {
    availableMs: 0,
    bookedMs: 0,
    usedMs: 0,
    checkableBookedMs: 0,
    checkableUsedMs: 0,
    started: 0,
    released: 0,
  };
  for (const u of uses) {
    sum.availableMs += u.availableMs;
    sum.bookedMs += u.bookedMs;
    sum.usedMs += u.usedMs;
    sum.checkableBookedMs += u.checkableBookedMs;
    sum.checkableUsedMs += u.checkableUsedMs;
    sum.started += u.started;
    sum.released += u.released;
  }
  return sum;
}

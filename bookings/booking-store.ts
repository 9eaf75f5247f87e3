import type { Interval } from './booking-rules.ts';
import type { DateConflict, Occurrence, SeriesRule } from './series-rules.ts';

/**
 * The bookings, as the routes, the check-in, the alerts, the lobby, the report and the simulated history ask
 * for them. Whatever keeps them keeps one invariant the rules cannot: two active bookings ('booked' or
 * 'checked_in') of one space never overlap, whoever books at the same moment. `sqlite-booking-store.ts`
 * keeps them in the records database.
 */

export type BookingStatus = 'booked' | 'checked_in' | 'released' | 'cancelled';

export interface Booking {
  id: string;
  memberId: string;
  spaceId: string;
  /** Epoch ms; the booking is [start, end). */
  start: number;
  end: number;
  status: BookingStatus;
  /** When presence was first seen during the booking (sensor check-in). */
  checkedInAt: number | null;
  /** When the booking was released as a no-show. */
  releasedAt: number | null;
  cancelledAt: number | null;
  createdAt: number;
  /** The series this booking is one date of (absent or null: a single booking). */
  seriesId?: string | null;
  /** That date's local start as the series' rule gives it (its RECURRENCE-ID), kept when the date is moved. */
  occurrence?: string | null;
}

export interface NewBooking {
  memberId: string;
  spaceId: string;
  start: number;
  end: number;
}

export type CreateResult =
  | { ok: true; booking: Booking }
  /** `conflict` is the time of an active booking in the way (never whose it is). */
  | { ok: false; reason: 'slot_taken'; conflict: Interval };

export type CancelResult = 'cancelled' | 'not_found' | 'already_ended';

/** Who asks to cancel: members may cancel their own bookings; staff (facility, admin) any. */
export interface Canceller {
  memberId: string;
  staff: boolean;
}

/** Per space, for the board report: how much was booked and how much of it was really used. */
export interface SpaceUsage {
  spaceId: string;
  /** Bookings not cancelled (including no-shows) overlapping the period. */
  bookings: number;
  checkedIn: number;
  released: number;
  cancelled: number;
  /** Booked time within the period, ms (not cancelled). */
  bookedMs: number;
  /** Booked time within the period of bookings where presence was seen, ms. */
  usedMs: number;
}

/** Upper bound for list queries: a member's calendar or a staff listing never needs more in one answer. */
export const MAX_LISTED = 1000;

/** A booking as the board report counts it: which space, when, and how it ended. */
export interface BookedSpan {
  spaceId: string;
  start: number;
  end: number;
  status: BookingStatus;
}

/** The bookings of a period as the board report reads them. */
export interface BookedSpans {
  /** Every booking overlapping the range, whatever its status (the report leaves cancelled ones out itself). */
  spans: BookedSpan[];
  /** The start of the first booking on record, null without any: before it, bookings are unknown, not none. */
  firstStart: number | null;
}

/** What importBookings did: new bookings, ones already there (same id), and ones refused as overlapping. */
export interface ImportResult {
  added: number;
  existing: number;
  refused: number;
}

/** The bookings, whatever database keeps them. */
export interface BookingStore {
  /** Books the space unless an active booking overlaps; exactly one of any set of overlapping requests wins. */
  create(input: NewBooking, now?: number): Promise<CreateResult>;
  get(id: string): Promise<Booking | undefined>;
  /**
   * Cancels an active booking that has not ended yet. A member asking about someone else's booking hears
   * 'not_found', exactly as for an id that does not exist.
   */
  cancel(id: string, by: Canceller, now?: number): Promise<CancelResult>;
  /** A member's bookings (every status) overlapping the range (default: ever), by start; at most MAX_LISTED. */
  listMine(memberId: string, range?: Interval): Promise<Booking[]>;
  /** Everyone's bookings (every status) overlapping the range, by start, for staff; at most MAX_LISTED. */
  listAll(range?: Interval): Promise<Booking[]>;
  /** A non-cancelled, non-released booking of that member and space whose [start - grace, end) contains `at`. */
  coveringBooking(
    memberId: string,
    spaceId: string,
    at: number,
    graceBeforeMs: number,
  ): Promise<Booking | undefined>;
  /** Active bookings of the space overlapping [from, to), by start. */
  spaceBookings(spaceId: string, from: number, to: number): Promise<Booking[]>;
  /** Marks presence: 'booked' -> 'checked_in'. Resolves to the booking when it changed, else undefined. */
  checkIn(id: string, at: number): Promise<Booking | undefined>;
  /** Releases a no-show: 'booked' -> 'released', freeing the slot. Undefined when it was not 'booked' any more. */
  release(id: string, at: number): Promise<Booking | undefined>;
  /** Bookings still waiting for presence that started at or before `startedBy`: candidates for release. */
  unconfirmed(startedBy: number): Promise<Booking[]>;
  /**
   * For the board report: every booking overlapping the range, with no limit (a year of a whole building),
   * four fields each, and when the records begin.
   */
  spansWithin(range: Interval): Promise<BookedSpans>;
  /**
   * Bookings made elsewhere, taken as they are, with their ids, status and outcome (still booked, checked
   * in, released as a no-show) and without the member-facing rules (opening hours, lengths, booking ahead):
   * the simulated building's history and its bookings ahead. Ids are the caller's, so importing the same
   * bookings twice adds nothing. The one rule of the store still holds: no two active bookings of a space
   * overlap (those are refused and counted).
   */
  importBookings(bookings: readonly Booking[]): Promise<ImportResult>;
  /** Booked vs really used per space within the period. */
  usage(range: Interval): Promise<SpaceUsage[]>;
  /**
   * A value that differs whenever the bookings may have changed, by this process or another one; cheap
   * enough to ask every few seconds (the lobby reads the bookings again only when it changes).
   */
  changeMarker(): Promise<string>;
}

/** A recurring booking: its rule, and who booked which space. Its dates are bookings with its `seriesId`. */
export interface BookingSeries extends SeriesRule {
  id: string;
  memberId: string;
  spaceId: string;
  createdAt: number;
  /** When the last of its dates was cancelled (as a whole or from its first date on). */
  cancelledAt: number | null;
}

export interface NewSeries {
  memberId: string;
  spaceId: string;
  rule: SeriesRule;
  /** The dates the rules accepted (`series-rules.ts`): each becomes a booking unless its time is taken. */
  occurrences: readonly Occurrence[];
}

/**
 * What to do with dates whose time is taken: refuse the whole series (nothing is saved), or save the
 * others and list the skipped ones. Never decided silently: the caller says which.
 */
export type SeriesConflictMode = 'all_or_nothing' | 'skip_conflicts';

export type CreateSeriesResult =
  | { ok: true; series: BookingSeries; bookings: Booking[]; skipped: DateConflict[] }
  | { ok: false; reason: 'slot_taken'; conflicts: DateConflict[] };

export type MoveResult =
  | { ok: true; booking: Booking }
  | { ok: false; reason: 'not_found' }
  | { ok: false; reason: 'already_ended' }
  | { ok: false; reason: 'slot_taken'; conflict: Interval };

export interface CancelFromResult {
  /** 'not_found' for a series that does not exist or is someone else's (to a member). */
  outcome: 'cancelled' | 'not_found';
  /** How many active dates were cancelled. */
  cancelled: number;
  /** The series as it is now (its rule ends before the date), when found. */
  series?: BookingSeries;
}

/** A series replaced from one of its dates on by a new one (`planSeriesChange` in series-rules.ts). */
export interface SeriesChange {
  seriesId: string;
  /** The date changed from: the old series' active dates from it on are cancelled. */
  fromOccurrence: string;
  /** The old rule ending before that date; undefined when nothing of it is left (it is marked cancelled). */
  ending: SeriesRule | undefined;
  /** The new series, booked for the old series' member: its space, rule and dates. */
  spaceId: string;
  rule: SeriesRule;
  occurrences: readonly Occurrence[];
}

/** The new series of a change, booked for the old series' member. */
export function seriesFromChange(change: SeriesChange, memberId: string): NewSeries {
  return { memberId, spaceId: change.spaceId, rule: change.rule, occurrences: change.occurrences };
}

/**
 * A change refused after the old dates were given up, thrown inside the store's transaction so that it rolls
 * back, and answered from outside it.
 */
export class ChangeRefused extends Error {
  constructor(readonly result: Extract<ChangeSeriesResult, { ok: false }>) {
    super('series change refused');
  }
}

/** An event on the old series and the one on the new series that carries its dates from the change on. */
export interface EventCarried {
  from: string;
  /** The same id when nothing of the old series is left (the event moved); a new event otherwise. */
  to: string;
}

export type ChangeSeriesResult =
  | {
      ok: true;
      /** The old series as it is now: its rule ends before the date (or it is cancelled). */
      ended: BookingSeries;
      /** Its dates the change cancelled. */
      cancelled: Booking[];
      series: BookingSeries;
      bookings: Booking[];
      skipped: DateConflict[];
      events: EventCarried[];
    }
  /** A series that does not exist or is someone else's (to a member). */
  | { ok: false; reason: 'not_found' }
  | { ok: false; reason: 'slot_taken'; conflicts: DateConflict[] }
  /** Visitors hold places on these dates (occurrences) of the old series' events: they are not dropped silently. */
  | { ok: false; reason: 'visitors_signed_up'; occurrences: string[] };

/**
 * Which dates a changed series gives up: a preview of the change leaves them out of the conflicts, since the
 * change cancels them in the same transaction.
 */
export interface Replacing {
  seriesId: string;
  fromOccurrence: string;
}

/** Recurring bookings, kept by the same database as the bookings (their dates are bookings). */
export interface BookingSeriesStore {
  /**
   * The dates whose time an active booking of the space takes, each with the first one in the way; with
   * `replacing`, that series' dates from that date on are not in the way.
   */
  seriesConflicts(
    spaceId: string,
    occurrences: readonly Occurrence[],
    replacing?: Replacing,
  ): Promise<DateConflict[]>;
  /**
   * Saves the series and books its dates in one transaction, by the mode given for conflicts; a series
   * whose every date is taken is refused in either mode.
   */
  createSeries(input: NewSeries, mode: SeriesConflictMode, now?: number): Promise<CreateSeriesResult>;
  getSeries(id: string): Promise<BookingSeries | undefined>;
  /** The series with these ids (unknown ids are left out). */
  seriesByIds(ids: readonly string[]): Promise<BookingSeries[]>;
  /** The dates of a series (every status), by occurrence. */
  seriesBookings(seriesId: string): Promise<Booking[]>;
  /**
   * Ends a series before the date whose local start is `fromOccurrence`: its rule is cut (`ending`, or
   * undefined when no date is left, which marks it cancelled) and its active dates from then on that have
   * not ended are cancelled, in one transaction. Members may end their own series; staff any.
   */
  cancelSeriesFrom(
    seriesId: string,
    fromOccurrence: string,
    ending: SeriesRule | undefined,
    by: Canceller,
    now?: number,
  ): Promise<CancelFromResult>;
  /**
   * Changes a series from a date on, in one transaction: the old series' active dates from that date on are
   * cancelled and its rule cut (`ending`), and the new series is booked by the mode given for conflicts
   * (conflicts are judged after the old dates are given up, so a new date may take an old one's time). Refused
   * as a whole, nothing changed, when a date is taken in all_or_nothing (or every date in either mode), or when
   * visitors are signed up for a date given up. The old series' events carry on to the new one
   * (`EventCarried`). Members may change their own series; staff any.
   */
  changeSeriesFrom(
    change: SeriesChange,
    mode: SeriesConflictMode,
    by: Canceller,
    now?: number,
  ): Promise<ChangeSeriesResult>;
  /** The dates (occurrences) of a series from a date on that visitors hold places on (confirmed or waiting). */
  visitorsFrom(seriesId: string, fromOccurrence: string): Promise<string[]>;
  /** Moves one active, not yet ended booking to another time in the same space (one date of a series). */
  moveBooking(id: string, to: Interval, by: Canceller, now?: number): Promise<MoveResult>;
}

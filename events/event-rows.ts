import type { EventDate, EventVisibility } from './event-rules.ts';
import type { PublicEvent } from './event-store.ts';
import type { OrganisedDate } from './organiser-rules.ts';

/** An event as both engines keep it in the records: its row, how it reads, and one of its dates with its booking. */

export interface EventRow {
  id: string;
  title: string;
  description: string;
  capacity: number | null;
  visibility: EventVisibility;
  booking_id: string | null;
  series_id: string | null;
  organiser_id: string;
  created_at: number;
  cancelled_at: number | null;
}

export interface DateRow {
  id: string;
  date_id: string;
  title: string;
  description: string;
  capacity: number | null;
  visibility: EventVisibility;
  /** The house of the date's booking (null only for a booking from before bookings carried their site). */
  site: string | null;
  space_id: string;
  start_ms: number;
  end_ms: number;
  occurrence: string | null;
}

export function toEvent(row: EventRow): PublicEvent {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    capacity: row.capacity,
    visibility: row.visibility,
    bookingId: row.booking_id,
    seriesId: row.series_id,
    organiserId: row.organiser_id,
    createdAt: row.created_at,
    cancelledAt: row.cancelled_at,
  };
}

export function toEventDate(r: DateRow): EventDate {
  return {
    eventId: r.id,
    dateId: r.date_id,
    title: r.title,
    description: r.description,
    capacity: r.capacity,
    visibility: r.visibility,
    site: r.site,
    spaceId: r.space_id,
    start: Number(r.start_ms),
    end: Number(r.end_ms),
    occurrence: r.occurrence,
  };
}

/**
 * One date of an event not cancelled: the event's own booking or one of its series', not cancelled (a date
 * released for want of a check-in still happened on paper: its organiser enters who came).
 */
export const DATE_OF_SQL = `SELECT e.id, b.id AS date_id, e.title, e.description, e.capacity, e.visibility, b.site, b.space_id,
    b.start_ms, b.end_ms, b.occurrence
  FROM events e JOIN bookings b ON (b.id = e.booking_id OR b.series_id = e.series_id)
  WHERE e.id = $event AND b.id = $date AND e.cancelled_at IS NULL AND b.status IN ('booked', 'checked_in', 'released')`;

/** One date of an event its organiser reads, with its booking's state and who booked it. */
export interface OrganisedDateRow extends DateRow {
  status: OrganisedDate['status'];
  member_id: string;
}

export function toOrganisedDate(r: OrganisedDateRow): OrganisedDate {
  return { ...toEventDate(r), status: r.status, bookedBy: r.member_id };
}

/** The events one organiser organises, not cancelled, newest first. */
export const ORGANISED_EVENTS_SQL = `SELECT id, title, description, capacity, visibility, booking_id, series_id, organiser_id,
    created_at, cancelled_at
  FROM events WHERE organiser_id = $organiser AND cancelled_at IS NULL ORDER BY created_at DESC, id LIMIT 200`;

/**
 * The dates of one organiser's events overlapping [$start, $end), released ones included; two arms (a single
 * booking, a series' dates) so each uses its index.
 */
export const ORGANISED_DATES_SQL = `SELECT e.id, b.id AS date_id, e.title, e.description, e.capacity, e.visibility, b.site, b.space_id,
    b.start_ms, b.end_ms, b.occurrence, b.status, b.member_id
  FROM events e JOIN bookings b ON b.id = e.booking_id
  WHERE e.organiser_id = $organiser AND e.cancelled_at IS NULL AND b.status IN ('booked', 'checked_in', 'released')
    AND b.start_ms < $end AND $start < b.end_ms
  UNION ALL
  SELECT e.id, b.id AS date_id, e.title, e.description, e.capacity, e.visibility, b.site, b.space_id,
    b.start_ms, b.end_ms, b.occurrence, b.status, b.member_id
  FROM events e JOIN bookings b ON b.series_id = e.series_id
  WHERE e.organiser_id = $organiser AND e.cancelled_at IS NULL AND b.status IN ('booked', 'checked_in', 'released')
    AND b.start_ms < $end AND $start < b.end_ms
  ORDER BY start_ms LIMIT 2000`;

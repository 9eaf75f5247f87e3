import type { DateCounts, SignUp, SignUpStatus } from './signup-store.ts';

/** A sign-up and a date's counts as both engines keep them in the records, and how a row becomes a record. */

export interface SignUpRow {
  id: string;
  event_id: string;
  date_id: string;
  places: number;
  email: string | null;
  status: SignUpStatus;
  position: number;
  created_at: number | string;
}

export interface CountsRow {
  event_id: string;
  date_id: string;
  space_id: string;
  start_ms: number | string;
  end_ms: number | string;
  capacity: number | null;
  confirmed_places: number;
  waiting_places: number;
  signups: number;
  cancelled_places: number;
  attended: number | null;
  attended_by: string | null;
  purged_at: number | string | null;
}

export const SIGNUP_COLUMNS = 'id, event_id, date_id, places, email, status, position, created_at';

/** The counts of a date with its booking's time and its event's capacity (both engines, same join). */
export const COUNTS_SELECT = `SELECT c.event_id, c.date_id, b.space_id, b.start_ms, b.end_ms, e.capacity,
  c.confirmed_places, c.waiting_places, c.signups, c.cancelled_places, c.attended, c.attended_by, c.purged_at
  FROM event_date_counts c JOIN bookings b ON b.id = c.date_id JOIN events e ON e.id = c.event_id`;

export function toSignUp(row: SignUpRow): SignUp {
  return {
    id: row.id,
    eventId: row.event_id,
    dateId: row.date_id,
    places: row.places,
    email: row.email,
    status: row.status,
    createdAt: Number(row.created_at),
  };
}

export function toCounts(row: CountsRow): DateCounts {
  return {
    eventId: row.event_id,
    dateId: row.date_id,
    spaceId: row.space_id,
    start: Number(row.start_ms),
    end: Number(row.end_ms),
    capacity: row.capacity,
    confirmed: row.confirmed_places,
    waiting: row.waiting_places,
    signUps: row.signups,
    cancelled: row.cancelled_places,
    attended: row.attended,
    attendedBy: row.attended_by,
    purged: row.purged_at !== null,
  };
}

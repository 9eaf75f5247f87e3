import type { Booking, BookingSeries, BookingStatus } from './booking-store.ts';

/** A booking and a series as both engines keep them in the records: their rows and how they read. */

export interface BookingRow {
  id: string;
  member_id: string;
  space_id: string;
  start_ms: number;
  end_ms: number;
  status: BookingStatus;
  created_at: number;
  checked_in_at: number | null;
  released_at: number | null;
  cancelled_at: number | null;
  series_id: string | null;
  occurrence: string | null;
}

export interface SeriesRow {
  id: string;
  member_id: string;
  space_id: string;
  rrule: string;
  first_start: string;
  time_zone: string;
  duration_minutes: number;
  created_at: number;
  cancelled_at: number | null;
}

export function toSeries(row: SeriesRow): BookingSeries {
  return {
    id: row.id,
    memberId: row.member_id,
    spaceId: row.space_id,
    rrule: row.rrule,
    firstStart: row.first_start,
    timeZone: row.time_zone,
    durationMinutes: row.duration_minutes,
    createdAt: row.created_at,
    cancelledAt: row.cancelled_at,
  };
}

export function toBooking(row: BookingRow): Booking {
  return {
    id: row.id,
    memberId: row.member_id,
    spaceId: row.space_id,
    start: row.start_ms,
    end: row.end_ms,
    status: row.status,
    checkedInAt: row.checked_in_at,
    releasedAt: row.released_at,
    cancelledAt: row.cancelled_at,
    createdAt: row.created_at,
    seriesId: row.series_id,
    occurrence: row.occurrence,
  };
}

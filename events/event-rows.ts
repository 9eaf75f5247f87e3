import type { EventVisibility } from './event-rules.ts';
import type { PublicEvent } from './event-store.ts';

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
  title: string;
  description: string;
  capacity: number | null;
  visibility: EventVisibility;
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

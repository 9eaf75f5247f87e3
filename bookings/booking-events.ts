import { randomUUID } from 'node:crypto';
import type { BookingEvent, BookingEventType } from '../building/events.ts';
import type { Booking } from './booking-store.ts';

/**
 * A booking's event for the building's event feed: the booking's id, space and times, never whose it is;
 * a moved booking's with the times it had before (`previous`).
 */
export function bookingEvent(
  type: BookingEventType,
  site: string,
  booking: Booking,
  at: number,
  previous?: { start: number; end: number },
): BookingEvent {
  return {
    type,
    id: randomUUID(),
    site,
    space: booking.spaceId,
    at,
    bookingId: booking.id,
    start: booking.start,
    end: booking.end,
    ...(previous ? { previousStart: previous.start, previousEnd: previous.end } : {}),
  };
}

/**
 * Making an event of a booking, as pure rules: which rooms hold one (a room, not a desk or a locker), which
 * of the member's bookings already carry one of their events, and the body of POST /api/events from what the
 * form holds. The page shows; the API decides.
 */

/** Desks and lockers are booked by one person for themselves: no event is held at a desk. */
const NOT_FOR_EVENTS = new Set(['desk', 'desk_area', 'locker']);

export function holdsEvents(kind: string | undefined): boolean {
  return kind !== undefined && !NOT_FOR_EVENTS.has(kind);
}

/** The title of the member's event on this booking (its own, or its series'), if there is one. */
export function eventOn(
  booking: { id: string; seriesId: string | null },
  events: readonly { title: string; bookingId: string | null; seriesId: string | null }[],
): string | undefined {
  return events.find(
    (e) => e.bookingId === booking.id || (booking.seriesId !== null && e.seriesId === booking.seriesId),
  )?.title;
}

export interface EventFormInput {
  title: string;
  description: string;
  /** What the number field holds: a number, or nothing (empty: no limit). */
  capacity: number | null | undefined;
  visibility: 'public' | 'members';
  /** For a date of a series: the whole series, or this date only. */
  scope: 'series' | 'date';
}

export function eventBody(
  booking: { id: string; seriesId: string | null },
  input: EventFormInput,
): Record<string, unknown> {
  const capacity =
    typeof input.capacity === 'number' && Number.isFinite(input.capacity) ? input.capacity : null;
  const on =
    booking.seriesId !== null && input.scope === 'series'
      ? { seriesId: booking.seriesId }
      : { bookingId: booking.id };
  return {
    title: input.title,
    description: input.description,
    capacity,
    visibility: input.visibility,
    ...on,
  };
}

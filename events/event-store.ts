import type { EventDate, EventDetails } from './event-rules.ts';
import type { OrganisedDate } from './organiser-rules.ts';

/** An event as kept: its details, the booking or series it sits on, and who organises it. */
export interface PublicEvent extends EventDetails {
  id: string;
  /** Exactly one of bookingId and seriesId is set. */
  bookingId: string | null;
  seriesId: string | null;
  organiserId: string;
  createdAt: number;
  cancelledAt: number | null;
}

export interface NewEvent extends EventDetails {
  bookingId: string | null;
  seriesId: string | null;
  organiserId: string;
}

/** The events, whatever database keeps them (`sqlite-event-store.ts`: the records). */
export interface EventStore {
  create(input: NewEvent, now?: number): Promise<PublicEvent>;
  get(id: string): Promise<PublicEvent | undefined>;
  /** Marks the event cancelled (its bookings stay as they are); false when there was none to cancel. */
  cancel(id: string, now?: number): Promise<boolean>;
  /**
   * The active dates of events not cancelled overlapping [start, end), by start: each active booking of
   * the event's booking or series is one date. `visibility` 'public' leaves out the members-only events.
   */
  /** One date (not cancelled) of an event not cancelled: the booking `dateId` of its booking or series. */
  dateOf(eventId: string, dateId: string): Promise<EventDate | undefined>;
  /** `site`: one house's dates only (a network's listing filtered by house); absent, every house's. */
  datesWithin(
    range: { start: number; end: number },
    visibility: 'public' | 'all',
    site?: string,
  ): Promise<EventDate[]>;
  /** The events `organiserId` organises, not cancelled, newest first (at most 200). */
  organisedBy(organiserId: string): Promise<PublicEvent[]>;
  /**
   * The dates of the events `organiserId` organises overlapping [start, end), by start: released ones too
   * (a date released for want of a check-in still happened on paper: its organiser enters who came).
   */
  datesOrganisedBy(organiserId: string, range: { start: number; end: number }): Promise<OrganisedDate[]>;
}

import { randomUUID } from 'node:crypto';
import type { RecordsDb } from '../database/database.ts';
import {
  DATE_OF_SQL,
  type DateRow,
  type EventRow,
  ORGANISED_DATES_SQL,
  ORGANISED_EVENTS_SQL,
  type OrganisedDateRow,
  toEvent,
  toEventDate,
  toOrganisedDate,
} from './event-rows.ts';
import type { EventDate } from './event-rules.ts';
import type { EventStore, NewEvent, PublicEvent } from './event-store.ts';
import type { OrganisedDate } from './organiser-rules.ts';

/** Events in the records database (table events), their dates read from the bookings they sit on. */

/** At most this many dates in one answer: a year of weekly events in a few rooms. */
const MAX_DATES = 2000;

export class SqliteEventStore implements EventStore {
  private readonly statements;

  constructor(db: RecordsDb) {
    this.statements = {
      insert: db.prepare(
        `INSERT INTO events (id, title, description, capacity, visibility, booking_id, series_id, organiser_id, created_at)
         VALUES (@id, @title, @description, @capacity, @visibility, @booking_id, @series_id, @organiser_id, @created_at)`,
      ),
      dateOf: db.prepare<[{ event: string; date: string }], DateRow>(DATE_OF_SQL),
      byId: db.prepare<[string], EventRow>('SELECT * FROM events WHERE id = ?'),
      organised: db.prepare<[{ organiser: string }], EventRow>(ORGANISED_EVENTS_SQL),
      organisedDates: db.prepare<[{ organiser: string; start: number; end: number }], OrganisedDateRow>(
        ORGANISED_DATES_SQL,
      ),
      cancel: db.prepare<[number, string]>(
        'UPDATE events SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL',
      ),
      // Two arms (a single booking, a series' dates) so each uses its index.
      dates: db.prepare<
        [
          number,
          number,
          number,
          string | null,
          string | null,
          number,
          number,
          number,
          string | null,
          string | null,
          number,
        ],
        DateRow
      >(
        `SELECT e.id, b.id AS date_id, e.title, e.description, e.capacity, e.visibility, b.site, b.space_id, b.start_ms, b.end_ms, b.occurrence
         FROM events e JOIN bookings b ON b.id = e.booking_id
         WHERE e.cancelled_at IS NULL AND b.status IN ('booked', 'checked_in') AND b.start_ms < ? AND ? < b.end_ms
           AND (e.visibility = 'public' OR ? = 1) AND (? IS NULL OR b.site = ?)
         UNION ALL
         SELECT e.id, b.id AS date_id, e.title, e.description, e.capacity, e.visibility, b.site, b.space_id, b.start_ms, b.end_ms, b.occurrence
         FROM events e JOIN bookings b ON b.series_id = e.series_id
         WHERE e.cancelled_at IS NULL AND b.status IN ('booked', 'checked_in') AND b.start_ms < ? AND ? < b.end_ms
           AND (e.visibility = 'public' OR ? = 1) AND (? IS NULL OR b.site = ?)
         ORDER BY start_ms LIMIT ?`,
      ),
    };
  }

  async create(input: NewEvent, now: number = Date.now()): Promise<PublicEvent> {
    const id = randomUUID();
    this.statements.insert.run({
      id,
      title: input.title,
      description: input.description,
      capacity: input.capacity,
      visibility: input.visibility,
      booking_id: input.bookingId,
      series_id: input.seriesId,
      organiser_id: input.organiserId,
      created_at: now,
    });
    return toEvent(this.statements.byId.get(id) as EventRow);
  }

  async get(id: string): Promise<PublicEvent | undefined> {
    const row = this.statements.byId.get(id);
    return row ? toEvent(row) : undefined;
  }

  async cancel(id: string, now: number = Date.now()): Promise<boolean> {
    return this.statements.cancel.run(now, id).changes === 1;
  }

  async dateOf(eventId: string, dateId: string): Promise<EventDate | undefined> {
    const row = this.statements.dateOf.get({ event: eventId, date: dateId });
    return row ? toEventDate(row) : undefined;
  }

  async datesWithin(
    range: { start: number; end: number },
    visibility: 'public' | 'all',
    site?: string,
  ): Promise<EventDate[]> {
    const all = visibility === 'all' ? 1 : 0;
    const house = site ?? null;
    return this.statements.dates
      .all(range.end, range.start, all, house, house, range.end, range.start, all, house, house, MAX_DATES)
      .map(toEventDate);
  }

  async organisedBy(organiserId: string): Promise<PublicEvent[]> {
    return this.statements.organised.all({ organiser: organiserId }).map(toEvent);
  }

  async datesOrganisedBy(
    organiserId: string,
    range: { start: number; end: number },
  ): Promise<OrganisedDate[]> {
    return this.statements.organisedDates
      .all({ organiser: organiserId, start: range.start, end: range.end })
      .map(toOrganisedDate);
  }
}

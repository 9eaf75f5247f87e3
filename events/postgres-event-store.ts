import { randomUUID } from 'node:crypto';
import type { PostgresRecords } from '../database/postgres.ts';
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

/** Events in PostgreSQL (table events), their dates read from the bookings they sit on. */

/** At most this many dates in one answer: a year of weekly events in a few rooms. */
const MAX_DATES = 2000;
const COLUMNS =
  'id, title, description, capacity, visibility, booking_id, series_id, organiser_id, created_at, cancelled_at';

export class PostgresEventStore implements EventStore {
  constructor(private readonly pool: PostgresRecords) {}

  async create(input: NewEvent, now: number = Date.now()): Promise<PublicEvent> {
    const { rows } = await this.pool.query<EventRow>(
      `INSERT INTO events (id, title, description, capacity, visibility, booking_id, series_id, organiser_id, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
      [
        randomUUID(),
        input.title,
        input.description,
        input.capacity,
        input.visibility,
        input.bookingId,
        input.seriesId,
        input.organiserId,
        now,
      ],
    );
    return toEvent(rows[0] as EventRow);
  }

  async get(id: string): Promise<PublicEvent | undefined> {
    const row = (await this.pool.query<EventRow>(`SELECT ${COLUMNS} FROM events WHERE id = $1`, [id]))
      .rows[0];
    return row ? toEvent(row) : undefined;
  }

  async cancel(id: string, now: number = Date.now()): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'UPDATE events SET cancelled_at = $1 WHERE id = $2 AND cancelled_at IS NULL',
      [now, id],
    );
    return rowCount === 1;
  }

  async dateOf(eventId: string, dateId: string): Promise<EventDate | undefined> {
    const sql = DATE_OF_SQL.replace('$event', '$1').replace('$date', '$2');
    const row = (await this.pool.query<DateRow>(sql, [eventId, dateId])).rows[0];
    return row ? toEventDate(row) : undefined;
  }

  async datesWithin(
    range: { start: number; end: number },
    visibility: 'public' | 'all',
    site?: string,
  ): Promise<EventDate[]> {
    // Two arms (a single booking, a series' dates) so each uses its index.
    const { rows } = await this.pool.query<DateRow>(
      `SELECT e.id, b.id AS date_id, e.title, e.description, e.capacity, e.visibility, b.site, b.space_id, b.start_ms, b.end_ms, b.occurrence
       FROM events e JOIN bookings b ON b.id = e.booking_id
       WHERE e.cancelled_at IS NULL AND b.status IN ('booked', 'checked_in') AND b.start_ms < $1 AND $2 < b.end_ms
         AND (e.visibility = 'public' OR $3) AND ($5::text IS NULL OR b.site = $5)
       UNION ALL
       SELECT e.id, b.id AS date_id, e.title, e.description, e.capacity, e.visibility, b.site, b.space_id, b.start_ms, b.end_ms, b.occurrence
       FROM events e JOIN bookings b ON b.series_id = e.series_id
       WHERE e.cancelled_at IS NULL AND b.status IN ('booked', 'checked_in') AND b.start_ms < $1 AND $2 < b.end_ms
         AND (e.visibility = 'public' OR $3) AND ($5::text IS NULL OR b.site = $5)
       ORDER BY start_ms LIMIT $4`,
      [range.end, range.start, visibility === 'all', MAX_DATES, site ?? null],
    );
    return rows.map(toEventDate);
  }

  async organisedBy(organiserId: string): Promise<PublicEvent[]> {
    const sql = ORGANISED_EVENTS_SQL.replaceAll('$organiser', '$1');
    return (await this.pool.query<EventRow>(sql, [organiserId])).rows.map(toEvent);
  }

  async datesOrganisedBy(
    organiserId: string,
    range: { start: number; end: number },
  ): Promise<OrganisedDate[]> {
    const sql = ORGANISED_DATES_SQL.replaceAll('$organiser', '$1')
      .replaceAll('$start', '$2')
      .replaceAll('$end', '$3');
    return (await this.pool.query<OrganisedDateRow>(sql, [organiserId, range.start, range.end])).rows.map(
      toOrganisedDate,
    );
  }
}

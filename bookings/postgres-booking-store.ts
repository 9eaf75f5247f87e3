import { randomUUID } from 'node:crypto';
import { inTransaction, type PostgresRecords } from '../database/postgres.ts';
import type { Interval } from './booking-rules.ts';
import {
  type BookedSpans,
  type Booking,
  type BookingStatus,
  type BookingStore,
  type Canceller,
  type CancelResult,
  type CreateResult,
  type ImportResult,
  MAX_LISTED,
  type NewBooking,
  type SpaceUsage,
} from './booking-store.ts';

/**
 * Bookings in PostgreSQL (table bookings). The exclusion constraint `bookings_no_overlap` (a tstzrange per
 * active booking, btree_gist on the space) is what keeps two active bookings of a space apart: an insert that
 * would overlap one is skipped (`ON CONFLICT DO NOTHING`), and concurrent inserts of overlapping bookings, from
 * any number of API processes, wait for each other on the index so that exactly one commits.
 */

interface BookingRow {
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
}

function toBooking(row: BookingRow): Booking {
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
  };
}

const ACTIVE = `status IN ('booked', 'checked_in')`;
const COLUMNS =
  'id, member_id, space_id, start_ms, end_ms, status, created_at, checked_in_at, released_at, cancelled_at';
const EVER: Interval = { start: Number.MIN_SAFE_INTEGER, end: Number.MAX_SAFE_INTEGER };
/** Imported bookings go in by this many per statement. */
const IMPORT_CHUNK = 500;

export class PostgresBookingStore implements BookingStore {
  constructor(private readonly pool: PostgresRecords) {}

  async #rows(sql: string, params: unknown[]): Promise<BookingRow[]> {
    return (await this.pool.query<BookingRow>(sql, params)).rows;
  }

  async #clash(spaceId: string, start: number, end: number): Promise<BookingRow | undefined> {
    return (
      await this.#rows(
        `SELECT ${COLUMNS} FROM bookings WHERE space_id = $1 AND ${ACTIVE} AND start_ms < $2 AND $3 < end_ms
         ORDER BY start_ms LIMIT 1`,
        [spaceId, end, start],
      )
    )[0];
  }

  async create(input: NewBooking, now: number = Date.now()): Promise<CreateResult> {
    for (let attempt = 0; ; attempt++) {
      const inserted = await this.#rows(
        `INSERT INTO bookings (id, member_id, space_id, start_ms, end_ms, status, created_at)
         VALUES ($1, $2, $3, $4, $5, 'booked', $6) ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
        [randomUUID(), input.memberId, input.spaceId, input.start, input.end, now],
      );
      if (inserted[0]) return { ok: true, booking: toBooking(inserted[0]) };
      const clash = await this.#clash(input.spaceId, input.start, input.end);
      if (clash) return { ok: false, reason: 'slot_taken', conflict: { start: clash.start_ms, end: clash.end_ms } };
      // The booking in the way was cancelled or released between the insert and the look: the slot may be
      // free now. After a few tries, it is taken as far as this request is concerned.
      if (attempt >= 2)
        return { ok: false, reason: 'slot_taken', conflict: { start: input.start, end: input.end } };
    }
  }

  async get(id: string): Promise<Booking | undefined> {
    const row = (await this.#rows(`SELECT ${COLUMNS} FROM bookings WHERE id = $1`, [id]))[0];
    return row ? toBooking(row) : undefined;
  }

  async cancel(id: string, by: Canceller, now: number = Date.now()): Promise<CancelResult> {
    const booking = await this.get(id);
    if (!booking || (!by.staff && booking.memberId !== by.memberId)) return 'not_found';
    if (booking.end <= now) return 'already_ended';
    const { rowCount } = await this.pool.query(
      `UPDATE bookings SET status = 'cancelled', cancelled_at = $1, cancelled_by = $2 WHERE id = $3 AND ${ACTIVE}`,
      [now, by.memberId, id],
    );
    return rowCount === 1 ? 'cancelled' : 'already_ended';
  }

  async listMine(memberId: string, range: Interval = EVER): Promise<Booking[]> {
    return (
      await this.#rows(
        `SELECT ${COLUMNS} FROM bookings WHERE member_id = $1 AND start_ms < $2 AND $3 < end_ms
         ORDER BY start_ms LIMIT $4`,
        [memberId, range.end, range.start, MAX_LISTED],
      )
    ).map(toBooking);
  }

  async listAll(range: Interval = EVER): Promise<Booking[]> {
    return (
      await this.#rows(
        `SELECT ${COLUMNS} FROM bookings WHERE start_ms < $1 AND $2 < end_ms ORDER BY start_ms LIMIT $3`,
        [range.end, range.start, MAX_LISTED],
      )
    ).map(toBooking);
  }

  async coveringBooking(
    memberId: string,
    spaceId: string,
    at: number,
    graceBeforeMs: number,
  ): Promise<Booking | undefined> {
    const row = (
      await this.#rows(
        `SELECT ${COLUMNS} FROM bookings WHERE member_id = $1 AND space_id = $2 AND ${ACTIVE}
         AND start_ms <= $3 AND $4 < end_ms ORDER BY start_ms LIMIT 1`,
        [memberId, spaceId, at + graceBeforeMs, at],
      )
    )[0];
    return row ? toBooking(row) : undefined;
  }

  async spaceBookings(spaceId: string, from: number, to: number): Promise<Booking[]> {
    return (
      await this.#rows(
        `SELECT ${COLUMNS} FROM bookings WHERE space_id = $1 AND ${ACTIVE} AND start_ms < $2 AND $3 < end_ms
         ORDER BY start_ms LIMIT $4`,
        [spaceId, to, from, MAX_LISTED],
      )
    ).map(toBooking);
  }

  async checkIn(id: string, at: number): Promise<Booking | undefined> {
    const row = (
      await this.#rows(
        `UPDATE bookings SET status = 'checked_in', checked_in_at = $1 WHERE id = $2 AND status = 'booked'
         RETURNING ${COLUMNS}`,
        [at, id],
      )
    )[0];
    return row ? toBooking(row) : undefined;
  }

  async release(id: string, at: number): Promise<Booking | undefined> {
    const row = (
      await this.#rows(
        `UPDATE bookings SET status = 'released', released_at = $1 WHERE id = $2 AND status = 'booked'
         RETURNING ${COLUMNS}`,
        [at, id],
      )
    )[0];
    return row ? toBooking(row) : undefined;
  }

  async unconfirmed(startedBy: number): Promise<Booking[]> {
    return (
      await this.#rows(
        `SELECT ${COLUMNS} FROM bookings WHERE status = 'booked' AND start_ms <= $1 ORDER BY start_ms`,
        [startedBy],
      )
    ).map(toBooking);
  }

  async spansWithin(range: Interval): Promise<BookedSpans> {
    const { rows } = await this.pool.query<{
      space_id: string;
      start_ms: number;
      end_ms: number;
      status: BookingStatus;
    }>('SELECT space_id, start_ms, end_ms, status FROM bookings WHERE start_ms < $1 AND end_ms > $2', [
      range.end,
      range.start,
    ]);
    const first = await this.pool.query<{ first: number | null }>('SELECT min(start_ms) AS first FROM bookings');
    return {
      spans: rows.map((r) => ({ spaceId: r.space_id, start: r.start_ms, end: r.end_ms, status: r.status })),
      firstStart: first.rows[0]?.first ?? null,
    };
  }

  /**
   * In one transaction, by chunks: ids already there are counted as existing; the rest go in with
   * `ON CONFLICT DO NOTHING`, so an active booking overlapping another (already stored, or earlier in the same
   * import) is skipped by the exclusion constraint and counted as refused.
   */
  async importBookings(bookings: readonly Booking[]): Promise<ImportResult> {
    return inTransaction(this.pool, async (client) => {
      const result: ImportResult = { added: 0, existing: 0, refused: 0 };
      for (let i = 0; i < bookings.length; i += IMPORT_CHUNK) {
        const chunk = bookings.slice(i, i + IMPORT_CHUNK);
        const there = new Set(
          (
            await client.query<{ id: string }>('SELECT id FROM bookings WHERE id = ANY($1::text[])', [
              chunk.map((b) => b.id),
            ])
          ).rows.map((r) => r.id),
        );
        // The same id twice within the import counts as existing the second time, as it does one by one.
        const fresh: Booking[] = [];
        for (const b of chunk) {
          if (there.has(b.id)) result.existing++;
          else {
            there.add(b.id);
            fresh.push(b);
          }
        }
        if (fresh.length === 0) continue;
        const column = <K extends keyof Booking>(key: K) => fresh.map((b) => b[key]);
        const { rowCount } = await client.query(
          `INSERT INTO bookings (id, member_id, space_id, start_ms, end_ms, status, created_at, checked_in_at, released_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[],
                                $7::bigint[], $8::bigint[], $9::bigint[])
           ON CONFLICT DO NOTHING`,
          [
            column('id'),
            column('memberId'),
            column('spaceId'),
            column('start'),
            column('end'),
            column('status'),
            column('createdAt'),
            column('checkedInAt'),
            column('releasedAt'),
          ],
        );
        result.added += rowCount ?? 0;
        result.refused += fresh.length - (rowCount ?? 0);
      }
      return result;
    });
  }

  async usage(range: Interval): Promise<SpaceUsage[]> {
    const { rows } = await this.pool.query<SpaceUsage>(
      `SELECT space_id AS "spaceId",
              count(*) FILTER (WHERE status <> 'cancelled') AS bookings,
              count(*) FILTER (WHERE checked_in_at IS NOT NULL AND status <> 'cancelled') AS "checkedIn",
              count(*) FILTER (WHERE status = 'released') AS released,
              count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
              coalesce(sum(LEAST(end_ms, $1) - GREATEST(start_ms, $2)) FILTER (WHERE status <> 'cancelled'), 0)
                AS "bookedMs",
              coalesce(sum(LEAST(end_ms, $1) - GREATEST(start_ms, $2))
                FILTER (WHERE checked_in_at IS NOT NULL AND status <> 'cancelled'), 0) AS "usedMs"
       FROM bookings WHERE start_ms < $1 AND $2 < end_ms GROUP BY space_id ORDER BY space_id`,
      [range.end, range.start],
    );
    return rows;
  }

  /**
   * Every statement writing the bookings moves the sequence `bookings_changes` on (a trigger), whichever
   * process it comes from; reading it is one cheap query.
   */
  async changeMarker(): Promise<string> {
    const { rows } = await this.pool.query<{ last_value: number; is_called: boolean }>(
      'SELECT last_value, is_called FROM bookings_changes',
    );
    return `${rows[0]?.last_value}:${rows[0]?.is_called}`;
  }
}

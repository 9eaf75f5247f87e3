import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { inTransaction, type PostgresRecords } from '../database/postgres.ts';
import { type BookingRow, type SeriesRow, toBooking, toSeries } from './booking-rows.ts';
import type { Interval } from './booking-rules.ts';
import {
  type BookedSpans,
  type Booking,
  type BookingSeries,
  type BookingSeriesStore,
  type BookingStatus,
  type BookingStore,
  type CancelFromResult,
  type Canceller,
  type CancelResult,
  ChangeRefused,
  type ChangeSeriesResult,
  type CreateResult,
  type CreateSeriesResult,
  type ImportResult,
  MAX_LISTED,
  type MoveResult,
  type NewBooking,
  type NewSeries,
  type Replacing,
  type SeriesChange,
  type SeriesConflictMode,
  type SpaceUsage,
  seriesFromChange,
} from './booking-store.ts';
import type { DateConflict, Occurrence, SeriesRule } from './series-rules.ts';

/**
 * Bookings of one house (`site`) in PostgreSQL (table bookings): every statement reads and writes that house's
 * rows only, so a space id another house also has is another space. The exclusion constraint
 * `bookings_no_overlap` (a tstzrange per active booking, btree_gist on the site and the space) is what keeps two active bookings of a space apart: an insert that
 * would overlap one is skipped (`ON CONFLICT DO NOTHING`), and concurrent inserts of overlapping bookings, from
 * any number of API processes, wait for each other on the index so that exactly one commits.
 */

/** A date of a series lost its time to another booking while the series was being saved: start again. */
class SeriesRaced extends Error {}

/** An overlapping active booking refused by the exclusion constraint (SQLSTATE exclusion_violation). */
function isOverlapRefusal(err: unknown): boolean {
  return (err as { code?: string }).code === '23P01';
}

const ACTIVE = `status IN ('booked', 'checked_in')`;
const COLUMNS =
  'id, member_id, space_id, start_ms, end_ms, status, created_at, checked_in_at, released_at, cancelled_at, series_id, occurrence';
const SERIES_COLUMNS =
  'id, member_id, space_id, rrule, first_start, time_zone, duration_minutes, created_at, cancelled_at';
const EVER: Interval = { start: Number.MIN_SAFE_INTEGER, end: Number.MAX_SAFE_INTEGER };
/** Imported bookings go in by this many per statement. */
const IMPORT_CHUNK = 500;

export class PostgresBookingStore implements BookingStore, BookingSeriesStore {
  constructor(
    private readonly pool: PostgresRecords,
    /** The house whose bookings these are. */
    readonly site: string,
  ) {}

  async #rows(sql: string, params: unknown[]): Promise<BookingRow[]> {
    return (await this.pool.query<BookingRow>(sql, params)).rows;
  }

  async #clash(
    spaceId: string,
    start: number,
    end: number,
    client: pg.Pool | pg.PoolClient = this.pool,
    replacing?: Replacing,
  ): Promise<BookingRow | undefined> {
    const ignoring = replacing ? 'AND (series_id IS NULL OR series_id <> $5 OR occurrence < $6)' : '';
    return (
      await client.query<BookingRow>(
        `SELECT ${COLUMNS} FROM bookings WHERE site = $4 AND space_id = $1 AND ${ACTIVE} AND start_ms < $2
         AND $3 < end_ms ${ignoring} ORDER BY start_ms LIMIT 1`,
        replacing
          ? [spaceId, end, start, this.site, replacing.seriesId, replacing.fromOccurrence]
          : [spaceId, end, start, this.site],
      )
    ).rows[0];
  }

  async create(input: NewBooking, now: number = Date.now()): Promise<CreateResult> {
    for (let attempt = 0; ; attempt++) {
      const inserted = await this.#rows(
        `INSERT INTO bookings (id, member_id, space_id, start_ms, end_ms, status, created_at, site)
         VALUES ($1, $2, $3, $4, $5, 'booked', $6, $7) ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
        [randomUUID(), input.memberId, input.spaceId, input.start, input.end, now, this.site],
      );
      if (inserted[0]) return { ok: true, booking: toBooking(inserted[0]) };
      const clash = await this.#clash(input.spaceId, input.start, input.end);
      if (clash)
        return { ok: false, reason: 'slot_taken', conflict: { start: clash.start_ms, end: clash.end_ms } };
      // The booking in the way was cancelled or released between the insert and the look: the slot may be
      // free now. After a few tries, it is taken as far as this request is concerned.
      if (attempt >= 2)
        return { ok: false, reason: 'slot_taken', conflict: { start: input.start, end: input.end } };
    }
  }

  async get(id: string): Promise<Booking | undefined> {
    const row = (
      await this.#rows(`SELECT ${COLUMNS} FROM bookings WHERE id = $1 AND site = $2`, [id, this.site])
    )[0];
    return row ? toBooking(row) : undefined;
  }

  async cancel(id: string, by: Canceller, now: number = Date.now()): Promise<CancelResult> {
    const booking = await this.get(id);
    if (!booking || (!by.staff && booking.memberId !== by.memberId)) return 'not_found';
    if (booking.end <= now) return 'already_ended';
    const { rowCount } = await this.pool.query(
      `UPDATE bookings SET status = 'cancelled', cancelled_at = $1, cancelled_by = $2 WHERE id = $3 AND site = $4 AND ${ACTIVE}`,
      [now, by.memberId, id, this.site],
    );
    return rowCount === 1 ? 'cancelled' : 'already_ended';
  }

  async listMine(memberId: string, range: Interval = EVER): Promise<Booking[]> {
    return (
      await this.#rows(
        `SELECT ${COLUMNS} FROM bookings WHERE site = $5 AND member_id = $1 AND start_ms < $2 AND $3 < end_ms
         ORDER BY start_ms LIMIT $4`,
        [memberId, range.end, range.start, MAX_LISTED, this.site],
      )
    ).map(toBooking);
  }

  async listAll(range: Interval = EVER): Promise<Booking[]> {
    return (
      await this.#rows(
        `SELECT ${COLUMNS} FROM bookings WHERE site = $4 AND start_ms < $1 AND $2 < end_ms
         ORDER BY start_ms LIMIT $3`,
        [range.end, range.start, MAX_LISTED, this.site],
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
        `SELECT ${COLUMNS} FROM bookings WHERE site = $5 AND member_id = $1 AND space_id = $2 AND ${ACTIVE}
         AND start_ms <= $3 AND $4 < end_ms ORDER BY start_ms LIMIT 1`,
        [memberId, spaceId, at + graceBeforeMs, at, this.site],
      )
    )[0];
    return row ? toBooking(row) : undefined;
  }

  async spaceBookings(spaceId: string, from: number, to: number): Promise<Booking[]> {
    return (
      await this.#rows(
        `SELECT ${COLUMNS} FROM bookings WHERE site = $5 AND space_id = $1 AND ${ACTIVE} AND start_ms < $2
         AND $3 < end_ms ORDER BY start_ms LIMIT $4`,
        [spaceId, to, from, MAX_LISTED, this.site],
      )
    ).map(toBooking);
  }

  async checkIn(id: string, at: number): Promise<Booking | undefined> {
    const row = (
      await this.#rows(
        `UPDATE bookings SET status = 'checked_in', checked_in_at = $1
         WHERE id = $2 AND site = $3 AND status = 'booked' RETURNING ${COLUMNS}`,
        [at, id, this.site],
      )
    )[0];
    return row ? toBooking(row) : undefined;
  }

  async release(id: string, at: number): Promise<Booking | undefined> {
    const row = (
      await this.#rows(
        `UPDATE bookings SET status = 'released', released_at = $1
         WHERE id = $2 AND site = $3 AND status = 'booked' RETURNING ${COLUMNS}`,
        [at, id, this.site],
      )
    )[0];
    return row ? toBooking(row) : undefined;
  }

  async unconfirmed(startedBy: number): Promise<Booking[]> {
    return (
      await this.#rows(
        `SELECT ${COLUMNS} FROM bookings WHERE site = $2 AND status = 'booked' AND start_ms <= $1
         ORDER BY start_ms`,
        [startedBy, this.site],
      )
    ).map(toBooking);
  }

  async spansWithin(range: Interval): Promise<BookedSpans> {
    const { rows } = await this.pool.query<{
      space_id: string;
      start_ms: number;
      end_ms: number;
      status: BookingStatus;
    }>(
      'SELECT space_id, start_ms, end_ms, status FROM bookings WHERE site = $3 AND start_ms < $1 AND end_ms > $2',
      [range.end, range.start, this.site],
    );
    const first = await this.pool.query<{ first: number | null }>(
      'SELECT min(start_ms) AS first FROM bookings WHERE site = $1',
      [this.site],
    );
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
          `INSERT INTO bookings (id, member_id, space_id, start_ms, end_ms, status, created_at, checked_in_at, released_at, site)
           SELECT *, $10::text FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[],
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
            this.site,
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
       FROM bookings WHERE site = $3 AND start_ms < $1 AND $2 < end_ms GROUP BY space_id ORDER BY space_id`,
      [range.end, range.start, this.site],
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

  /** The dates whose time an active booking of the space takes, each with the first one in the way. */
  async seriesConflicts(
    spaceId: string,
    occurrences: readonly Occurrence[],
    replacing?: Replacing,
  ): Promise<DateConflict[]> {
    return this.#conflicts(this.pool, spaceId, occurrences, replacing);
  }

  async #conflicts(
    client: pg.Pool | pg.PoolClient,
    spaceId: string,
    occurrences: readonly Occurrence[],
    replacing?: Replacing,
  ): Promise<DateConflict[]> {
    const conflicts: DateConflict[] = [];
    for (const occurrence of occurrences) {
      const clash = await this.#clash(spaceId, occurrence.start, occurrence.end, client, replacing);
      if (clash) conflicts.push({ occurrence, conflict: { start: clash.start_ms, end: clash.end_ms } });
    }
    return conflicts;
  }

  /**
   * Saves the series and books its dates in one transaction. Each date goes in yielding to the exclusion
   * constraint; a date whose time another process took between the look and the insert is skipped and listed
   * (skip_conflicts), or the whole transaction starts again and sees it (all_or_nothing).
   */
  async createSeries(
    input: NewSeries,
    mode: SeriesConflictMode,
    now: number = Date.now(),
  ): Promise<CreateSeriesResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await inTransaction(this.pool, (client) => this.#insertSeries(client, input, mode, now));
      } catch (err) {
        if (!(err instanceof SeriesRaced) || attempt >= 4) throw err;
      }
    }
  }

  /** Saves a series and books its dates inside the caller's transaction; throws SeriesRaced to start again. */
  async #insertSeries(
    client: pg.PoolClient,
    input: NewSeries,
    mode: SeriesConflictMode,
    now: number,
  ): Promise<CreateSeriesResult> {
    const conflicts = await this.#conflicts(client, input.spaceId, input.occurrences);
    // Skipping every date would keep a rule with nothing behind it: refused like all-or-nothing.
    const refused = mode === 'all_or_nothing' || conflicts.length === input.occurrences.length;
    if (conflicts.length > 0 && refused) return { ok: false, reason: 'slot_taken', conflicts };
    const taken = new Set(conflicts.map((c) => c.occurrence.local));
    const id = randomUUID();
    await client.query(
      `INSERT INTO booking_series (id, member_id, space_id, rrule, first_start, time_zone, duration_minutes, created_at, site)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        id,
        input.memberId,
        input.spaceId,
        input.rule.rrule,
        input.rule.firstStart,
        input.rule.timeZone,
        input.rule.durationMinutes,
        now,
        this.site,
      ],
    );
    for (const o of input.occurrences) {
      if (taken.has(o.local)) continue;
      const { rowCount } = await client.query(
        `INSERT INTO bookings (id, member_id, space_id, start_ms, end_ms, status, created_at, series_id, occurrence, site)
               VALUES ($1, $2, $3, $4, $5, 'booked', $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
        [randomUUID(), input.memberId, input.spaceId, o.start, o.end, now, id, o.local, this.site],
      );
      if (rowCount === 1) continue;
      const clash = await this.#clash(input.spaceId, o.start, o.end, client);
      if (mode === 'all_or_nothing' || !clash) throw new SeriesRaced();
      conflicts.push({ occurrence: o, conflict: { start: clash.start_ms, end: clash.end_ms } });
      taken.add(o.local);
    }
    if (taken.size === input.occurrences.length) throw new SeriesRaced();
    const series = (
      await client.query<SeriesRow>(`SELECT ${SERIES_COLUMNS} FROM booking_series WHERE id = $1`, [id])
    ).rows[0] as SeriesRow;
    const dates = await client.query<BookingRow>(
      `SELECT ${COLUMNS} FROM bookings WHERE series_id = $1 ORDER BY occurrence, created_at`,
      [id],
    );
    return {
      ok: true,
      series: toSeries(series),
      bookings: dates.rows.map(toBooking),
      skipped: conflicts,
    };
  }

  async getSeries(id: string): Promise<BookingSeries | undefined> {
    const row = (
      await this.pool.query<SeriesRow>(
        `SELECT ${SERIES_COLUMNS} FROM booking_series WHERE id = $1 AND site = $2`,
        [id, this.site],
      )
    ).rows[0];
    return row ? toSeries(row) : undefined;
  }

  async seriesByIds(ids: readonly string[]): Promise<BookingSeries[]> {
    const unique = [...new Set(ids)];
    const { rows } = await this.pool.query<SeriesRow>(
      `SELECT ${SERIES_COLUMNS} FROM booking_series WHERE id = ANY($1::text[]) AND site = $2`,
      [unique, this.site],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    // In the order asked, as the SQLite store answers.
    return unique.flatMap((id) => {
      const row = byId.get(id);
      return row ? [toSeries(row)] : [];
    });
  }

  async seriesBookings(seriesId: string): Promise<Booking[]> {
    return (
      await this.#rows(
        `SELECT ${COLUMNS} FROM bookings WHERE series_id = $1 AND site = $2 ORDER BY occurrence, created_at`,
        [seriesId, this.site],
      )
    ).map(toBooking);
  }

  async cancelSeriesFrom(
    seriesId: string,
    fromOccurrence: string,
    ending: SeriesRule | undefined,
    by: Canceller,
    now: number = Date.now(),
  ): Promise<CancelFromResult> {
    return inTransaction(this.pool, async (client): Promise<CancelFromResult> => {
      const row = (
        await client.query<SeriesRow>(
          `SELECT ${SERIES_COLUMNS} FROM booking_series WHERE id = $1 AND site = $2 FOR UPDATE`,
          [seriesId, this.site],
        )
      ).rows[0];
      if (!row || (!by.staff && row.member_id !== by.memberId)) return { outcome: 'not_found', cancelled: 0 };
      const cancelled =
        (
          await client.query(
            `UPDATE bookings SET status = 'cancelled', cancelled_at = $1, cancelled_by = $2
             WHERE series_id = $3 AND occurrence >= $4 AND ${ACTIVE} AND end_ms > $5`,
            [now, by.memberId, seriesId, fromOccurrence, now],
          )
        ).rowCount ?? 0;
      const series = (
        await client.query<SeriesRow>(
          `UPDATE booking_series SET rrule = $1, cancelled_at = $2 WHERE id = $3 RETURNING ${SERIES_COLUMNS}`,
          [ending?.rrule ?? row.rrule, ending ? null : (row.cancelled_at ?? now), seriesId],
        )
      ).rows[0] as SeriesRow;
      return { outcome: 'cancelled', cancelled, series: toSeries(series) };
    });
  }

  /**
   * In one transaction, the old series locked (FOR UPDATE) so two changes of it wait for each other; a refusal
   * after the old dates were given up rolls it all back. A date taken by another process between the look and
   * the insert starts the whole transaction again, as createSeries does.
   */
  async changeSeriesFrom(
    change: SeriesChange,
    mode: SeriesConflictMode,
    by: Canceller,
    now: number = Date.now(),
  ): Promise<ChangeSeriesResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await inTransaction(this.pool, (client) => this.#change(client, change, mode, by, now));
      } catch (err) {
        if (err instanceof ChangeRefused) return err.result;
        if (!(err instanceof SeriesRaced) || attempt >= 4) throw err;
      }
    }
  }

  async #change(
    client: pg.PoolClient,
    change: SeriesChange,
    mode: SeriesConflictMode,
    by: Canceller,
    now: number,
  ): Promise<ChangeSeriesResult> {
    const row = (
      await client.query<SeriesRow>(
        `SELECT ${SERIES_COLUMNS} FROM booking_series WHERE id = $1 AND site = $2 FOR UPDATE`,
        [change.seriesId, this.site],
      )
    ).rows[0];
    if (!row || (!by.staff && row.member_id !== by.memberId)) return { ok: false, reason: 'not_found' };
    const visitors = await this.#visitorsFrom(client, change.seriesId, change.fromOccurrence);
    if (visitors.length > 0) return { ok: false, reason: 'visitors_signed_up', occurrences: visitors };
    const cancelled = (
      await client.query<BookingRow>(
        `UPDATE bookings SET status = 'cancelled', cancelled_at = $1, cancelled_by = $2
         WHERE series_id = $3 AND occurrence >= $4 AND ${ACTIVE} AND end_ms > $5 RETURNING ${COLUMNS}`,
        [now, by.memberId, change.seriesId, change.fromOccurrence, now],
      )
    ).rows
      .map(toBooking)
      .sort((a, b) => ((a.occurrence ?? '') < (b.occurrence ?? '') ? -1 : 1));
    const ended = (
      await client.query<SeriesRow>(
        `UPDATE booking_series SET rrule = $1, cancelled_at = $2 WHERE id = $3 RETURNING ${SERIES_COLUMNS}`,
        [
          change.ending?.rrule ?? row.rrule,
          change.ending ? null : (row.cancelled_at ?? now),
          change.seriesId,
        ],
      )
    ).rows[0] as SeriesRow;
    const made = await this.#insertSeries(client, seriesFromChange(change, row.member_id), mode, now);
    if (!made.ok) throw new ChangeRefused(made);
    const { rows: events } = await client.query<{ id: string }>(
      'SELECT id FROM events WHERE series_id = $1 AND cancelled_at IS NULL ORDER BY created_at, id',
      [change.seriesId],
    );
    const carried = [];
    for (const { id } of events) {
      if (!change.ending) {
        await client.query('UPDATE events SET series_id = $1 WHERE id = $2', [made.series.id, id]);
        carried.push({ from: id, to: id });
        continue;
      }
      const to = randomUUID();
      await client.query(
        `INSERT INTO events (id, title, description, capacity, visibility, booking_id, series_id, organiser_id, created_at)
         SELECT $1, title, description, capacity, visibility, NULL, $2, organiser_id, $3 FROM events WHERE id = $4`,
        [to, made.series.id, now, id],
      );
      carried.push({ from: id, to });
    }
    return {
      ok: true,
      ended: toSeries(ended),
      cancelled,
      series: made.series,
      bookings: made.bookings,
      skipped: made.skipped,
      events: carried,
    };
  }

  async visitorsFrom(seriesId: string, fromOccurrence: string): Promise<string[]> {
    return this.#visitorsFrom(this.pool, seriesId, fromOccurrence);
  }

  async #visitorsFrom(
    client: pg.Pool | pg.PoolClient,
    seriesId: string,
    fromOccurrence: string,
  ): Promise<string[]> {
    const { rows } = await client.query<{ occurrence: string }>(
      `SELECT DISTINCT b.occurrence FROM bookings b JOIN event_signups v ON v.date_id = b.id
       WHERE b.series_id = $1 AND b.occurrence >= $2 AND b.${ACTIVE} AND v.status IN ('confirmed', 'waiting')
       ORDER BY b.occurrence`,
      [seriesId, fromOccurrence],
    );
    return rows.map((r) => r.occurrence);
  }

  /** Moves one active, not yet ended booking; the exclusion constraint refuses a time another booking holds. */
  async moveBooking(id: string, to: Interval, by: Canceller, now: number = Date.now()): Promise<MoveResult> {
    const row = (
      await this.#rows(`SELECT ${COLUMNS} FROM bookings WHERE id = $1 AND site = $2`, [id, this.site])
    )[0];
    if (!row || (!by.staff && row.member_id !== by.memberId)) return { ok: false, reason: 'not_found' };
    if (row.end_ms <= now || (row.status !== 'booked' && row.status !== 'checked_in'))
      return { ok: false, reason: 'already_ended' };
    try {
      const moved = (
        await this.#rows(
          `UPDATE bookings SET start_ms = $1, end_ms = $2 WHERE id = $3 AND site = $4 AND ${ACTIVE}
           RETURNING ${COLUMNS}`,
          [to.start, to.end, id, this.site],
        )
      )[0];
      if (!moved) return { ok: false, reason: 'already_ended' };
      return { ok: true, booking: toBooking(moved) };
    } catch (err) {
      if (!isOverlapRefusal(err)) throw err;
      const clash = (
        await this.#rows(
          `SELECT ${COLUMNS} FROM bookings WHERE site = $5 AND space_id = $1 AND id <> $2 AND ${ACTIVE}
           AND start_ms < $3 AND $4 < end_ms ORDER BY start_ms LIMIT 1`,
          [row.space_id, id, to.end, to.start, this.site],
        )
      )[0];
      return {
        ok: false,
        reason: 'slot_taken',
        conflict: clash ? { start: clash.start_ms, end: clash.end_ms } : to,
      };
    }
  }
}

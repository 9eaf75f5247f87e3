import { randomUUID } from 'node:crypto';
import type { RecordsDb } from '../database/database.ts';
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
 * Bookings of one house (`site`) in the records database (table bookings): every statement reads and writes
 * that house's rows only, so a space id another house also has ("eg", "protel-1") is another space. The overlap check and the insert run in one
 * `BEGIN IMMEDIATE` transaction, which takes SQLite's write lock before reading, so concurrent requests —
 * from this process or another one on the same file — are serialised; a trigger in the schema refuses an
 * overlapping row whatever writes it.
 */

const ACTIVE = `status IN ('booked', 'checked_in')`;
function isOverlapRefusal(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err as { code?: string }).code === 'SQLITE_CONSTRAINT_TRIGGER' &&
    err.message.includes('booking_overlap')
  );
}

interface SpanRow {
  space_id: string;
  start_ms: number;
  end_ms: number;
  status: BookingStatus;
}

export class SqliteBookingStore implements BookingStore, BookingSeriesStore {
  private readonly statements;
  private readonly createInTransaction;
  private readonly importInTransaction;
  private readonly seriesInTransaction;
  private readonly cancelFromInTransaction;
  private readonly moveInTransaction;
  private readonly changeInTransaction;

  readonly #db: RecordsDb;
  private readonly conflictsOf: (
    spaceId: string,
    occurrences: readonly Occurrence[],
    replacing?: Replacing,
  ) => DateConflict[];

  /** The house whose bookings these are: every row this store reads or writes is of `site`. */
  readonly site: string;

  constructor(db: RecordsDb, site: string) {
    this.#db = db;
    this.site = site;
    const at = site;
    this.statements = {
      changes: db.prepare('SELECT total_changes()').pluck(),
      byId: db.prepare<[string, string], BookingRow>('SELECT * FROM bookings WHERE id = ? AND site = ?'),
      anyById: db.prepare<[string], { id: string }>('SELECT id FROM bookings WHERE id = ?'),
      clash: db.prepare<[string, string, number, number], BookingRow>(
        `SELECT * FROM bookings WHERE site = ? AND space_id = ? AND ${ACTIVE} AND start_ms < ? AND ? < end_ms
         ORDER BY start_ms LIMIT 1`,
      ),
      insert: db.prepare(
        `INSERT INTO bookings (id, site, member_id, space_id, start_ms, end_ms, status, created_at)
         VALUES (@id, @site, @member_id, @space_id, @start_ms, @end_ms, 'booked', @created_at)`,
      ),
      insertImported: db.prepare(
        `INSERT INTO bookings (id, site, member_id, space_id, start_ms, end_ms, status, created_at, checked_in_at, released_at)
         VALUES (@id, @site, @member_id, @space_id, @start_ms, @end_ms, @status, @created_at, @checked_in_at, @released_at)
         ON CONFLICT (id) DO NOTHING`,
      ),
      cancel: db.prepare<[number, string, string, string]>(
        `UPDATE bookings SET status = 'cancelled', cancelled_at = ?, cancelled_by = ? WHERE id = ? AND site = ? AND ${ACTIVE}`,
      ),
      checkIn: db.prepare<[number, string, string]>(
        `UPDATE bookings SET status = 'checked_in', checked_in_at = ? WHERE id = ? AND site = ? AND status = 'booked'`,
      ),
      release: db.prepare<[number, string, string]>(
        `UPDATE bookings SET status = 'released', released_at = ? WHERE id = ? AND site = ? AND status = 'booked'`,
      ),
      covering: db.prepare<[string, string, string, number, number], BookingRow>(
        `SELECT * FROM bookings WHERE site = ? AND member_id = ? AND space_id = ? AND ${ACTIVE}
         AND start_ms <= ? AND ? < end_ms ORDER BY start_ms LIMIT 1`,
      ),
      inSpace: db.prepare<[string, string, number, number, number], BookingRow>(
        `SELECT * FROM bookings WHERE site = ? AND space_id = ? AND ${ACTIVE} AND start_ms < ? AND ? < end_ms
         ORDER BY start_ms LIMIT ?`,
      ),
      ofMember: db.prepare<[string, string, number, number, number], BookingRow>(
        `SELECT * FROM bookings WHERE site = ? AND member_id = ? AND start_ms < ? AND ? < end_ms
         ORDER BY start_ms LIMIT ?`,
      ),
      all: db.prepare<[string, number, number, number], BookingRow>(
        'SELECT * FROM bookings WHERE site = ? AND start_ms < ? AND ? < end_ms ORDER BY start_ms LIMIT ?',
      ),
      unconfirmed: db.prepare<[string, number], BookingRow>(
        `SELECT * FROM bookings WHERE site = ? AND status = 'booked' AND start_ms <= ? ORDER BY start_ms`,
      ),
      spans: db.prepare<[string, number, number], SpanRow>(
        'SELECT space_id, start_ms, end_ms, status FROM bookings WHERE site = ? AND start_ms < ? AND end_ms > ?',
      ),
      insertSeries: db.prepare(
        `INSERT INTO booking_series (id, site, member_id, space_id, rrule, first_start, time_zone, duration_minutes, created_at)
         VALUES (@id, @site, @member_id, @space_id, @rrule, @first_start, @time_zone, @duration_minutes, @created_at)`,
      ),
      insertDate: db.prepare(
        `INSERT INTO bookings (id, site, member_id, space_id, start_ms, end_ms, status, created_at, series_id, occurrence)
         VALUES (@id, @site, @member_id, @space_id, @start_ms, @end_ms, 'booked', @created_at, @series_id, @occurrence)`,
      ),
      seriesById: db.prepare<[string, string], SeriesRow>(
        'SELECT * FROM booking_series WHERE id = ? AND site = ?',
      ),
      seriesDates: db.prepare<[string, string], BookingRow>(
        'SELECT * FROM bookings WHERE series_id = ? AND site = ? ORDER BY occurrence, created_at',
      ),
      cutSeries: db.prepare<[string, number | null, string]>(
        'UPDATE booking_series SET rrule = ?, cancelled_at = ? WHERE id = ?',
      ),
      cancelDatesFrom: db.prepare<[number, string, string, string, number]>(
        `UPDATE bookings SET status = 'cancelled', cancelled_at = ?, cancelled_by = ?
         WHERE series_id = ? AND occurrence >= ? AND ${ACTIVE} AND end_ms > ?`,
      ),
      clashReplacing: db.prepare<[string, string, number, number, string, string], BookingRow>(
        `SELECT * FROM bookings WHERE site = ? AND space_id = ? AND ${ACTIVE} AND start_ms < ? AND ? < end_ms
           AND (series_id IS NULL OR series_id <> ? OR occurrence < ?)
         ORDER BY start_ms LIMIT 1`,
      ),
      datesFrom: db.prepare<[string, string, number], BookingRow>(
        `SELECT * FROM bookings WHERE series_id = ? AND occurrence >= ? AND ${ACTIVE} AND end_ms > ?
         ORDER BY occurrence`,
      ),
      visitorsFrom: db.prepare<[string, string], { occurrence: string }>(
        `SELECT DISTINCT b.occurrence FROM bookings b JOIN event_signups v ON v.date_id = b.id
         WHERE b.series_id = ? AND b.occurrence >= ? AND b.${ACTIVE} AND v.status IN ('confirmed', 'waiting')
         ORDER BY b.occurrence`,
      ),
      eventsOfSeries: db.prepare<[string], { id: string }>(
        'SELECT id FROM events WHERE series_id = ? AND cancelled_at IS NULL ORDER BY created_at, id',
      ),
      moveEvents: db.prepare<[string, string]>(
        'UPDATE events SET series_id = ? WHERE series_id = ? AND cancelled_at IS NULL',
      ),
      continueEvent: db.prepare<[string, string, number, string]>(
        `INSERT INTO events (id, title, description, capacity, visibility, booking_id, series_id, organiser_id, created_at)
         SELECT ?, title, description, capacity, visibility, NULL, ?, organiser_id, ? FROM events WHERE id = ?`,
      ),
      clashOther: db.prepare<[string, string, string, number, number], BookingRow>(
        `SELECT * FROM bookings WHERE site = ? AND space_id = ? AND id <> ? AND ${ACTIVE} AND start_ms < ? AND ? < end_ms
         ORDER BY start_ms LIMIT 1`,
      ),
      move: db.prepare<[number, number, string]>(
        `UPDATE bookings SET start_ms = ?, end_ms = ? WHERE id = ? AND ${ACTIVE}`,
      ),
      firstStart: db.prepare<[string], { first: number | null }>(
        'SELECT min(start_ms) AS first FROM bookings WHERE site = ?',
      ),
      usage: db.prepare<[number, number, number, number, string, number, number], SpaceUsage>(
        `SELECT space_id AS spaceId,
                SUM(status <> 'cancelled') AS bookings,
                SUM(checked_in_at IS NOT NULL AND status <> 'cancelled') AS checkedIn,
                SUM(status = 'released') AS released,
                SUM(status = 'cancelled') AS cancelled,
                SUM(CASE WHEN status <> 'cancelled' THEN MIN(end_ms, ?) - MAX(start_ms, ?) ELSE 0 END) AS bookedMs,
                SUM(CASE WHEN checked_in_at IS NOT NULL AND status <> 'cancelled'
                         THEN MIN(end_ms, ?) - MAX(start_ms, ?) ELSE 0 END) AS usedMs
         FROM bookings WHERE site = ? AND start_ms < ? AND ? < end_ms GROUP BY space_id ORDER BY space_id`,
      ),
    };
    const s = this.statements;
    this.importInTransaction = db.transaction((bookings: readonly Booking[]): ImportResult => {
      const result: ImportResult = { added: 0, existing: 0, refused: 0 };
      for (const b of bookings) {
        // An id is one booking in the whole installation, whichever house it is of.
        if (s.anyById.get(b.id)) {
          result.existing++;
          continue;
        }
        const active = b.status === 'booked' || b.status === 'checked_in';
        if (active && s.clash.get(at, b.spaceId, b.end, b.start)) {
          result.refused++;
          continue;
        }
        s.insertImported.run({
          id: b.id,
          site: at,
          member_id: b.memberId,
          space_id: b.spaceId,
          start_ms: b.start,
          end_ms: b.end,
          status: b.status,
          created_at: b.createdAt,
          checked_in_at: b.checkedInAt,
          released_at: b.releasedAt,
        });
        result.added++;
      }
      return result;
    });
    const conflictsOf = (
      spaceId: string,
      occurrences: readonly Occurrence[],
      replacing?: Replacing,
    ): DateConflict[] => {
      const conflicts: DateConflict[] = [];
      for (const occurrence of occurrences) {
        const clash = replacing
          ? s.clashReplacing.get(
              at,
              spaceId,
              occurrence.end,
              occurrence.start,
              replacing.seriesId,
              replacing.fromOccurrence,
            )
          : s.clash.get(at, spaceId, occurrence.end, occurrence.start);
        if (clash) conflicts.push({ occurrence, conflict: interval(clash) });
      }
      return conflicts;
    };
    this.conflictsOf = conflictsOf;
    /** Saves a series and books its dates; runs inside the caller's transaction. */
    const insertSeries = (input: NewSeries, mode: SeriesConflictMode, now: number): CreateSeriesResult => {
      const conflicts = conflictsOf(input.spaceId, input.occurrences);
      // Skipping every date would keep a rule with nothing behind it: refused like all-or-nothing.
      const refused = mode === 'all_or_nothing' || conflicts.length === input.occurrences.length;
      if (conflicts.length > 0 && refused) return { ok: false, reason: 'slot_taken', conflicts };
      const taken = new Set(conflicts.map((c) => c.occurrence.local));
      const id = randomUUID();
      s.insertSeries.run({
        id,
        site: at,
        member_id: input.memberId,
        space_id: input.spaceId,
        rrule: input.rule.rrule,
        first_start: input.rule.firstStart,
        time_zone: input.rule.timeZone,
        duration_minutes: input.rule.durationMinutes,
        created_at: now,
      });
      for (const o of input.occurrences) {
        if (taken.has(o.local)) continue;
        s.insertDate.run({
          id: randomUUID(),
          site: at,
          member_id: input.memberId,
          space_id: input.spaceId,
          start_ms: o.start,
          end_ms: o.end,
          created_at: now,
          series_id: id,
          occurrence: o.local,
        });
      }
      return {
        ok: true,
        series: toSeries(s.seriesById.get(id, at) as SeriesRow),
        bookings: s.seriesDates.all(id, at).map(toBooking),
        skipped: conflicts,
      };
    };
    this.seriesInTransaction = db.transaction(insertSeries);
    this.changeInTransaction = db.transaction(
      (change: SeriesChange, mode: SeriesConflictMode, by: Canceller, now: number): ChangeSeriesResult => {
        const row = s.seriesById.get(change.seriesId, at);
        if (!row || (!by.staff && row.member_id !== by.memberId)) return { ok: false, reason: 'not_found' };
        const visitors = s.visitorsFrom.all(change.seriesId, change.fromOccurrence);
        if (visitors.length > 0)
          return { ok: false, reason: 'visitors_signed_up', occurrences: visitors.map((v) => v.occurrence) };
        const given = s.datesFrom.all(change.seriesId, change.fromOccurrence, now);
        s.cancelDatesFrom.run(now, by.memberId, change.seriesId, change.fromOccurrence, now);
        s.cutSeries.run(
          change.ending?.rrule ?? row.rrule,
          change.ending ? null : (row.cancelled_at ?? now),
          change.seriesId,
        );
        const made = insertSeries(seriesFromChange(change, row.member_id), mode, now);
        // Refused: the old dates and rule are given back by rolling the whole transaction back.
        if (!made.ok) throw new ChangeRefused(made);
        const events = s.eventsOfSeries.all(change.seriesId).map(({ id }) => {
          if (!change.ending) return { from: id, to: id };
          const to = randomUUID();
          s.continueEvent.run(to, made.series.id, now, id);
          return { from: id, to };
        });
        if (!change.ending) s.moveEvents.run(made.series.id, change.seriesId);
        return {
          ok: true,
          ended: toSeries(s.seriesById.get(change.seriesId, at) as SeriesRow),
          cancelled: given.map((b) => toBooking(s.byId.get(b.id, at) as BookingRow)),
          series: made.series,
          bookings: made.bookings,
          skipped: made.skipped,
          events,
        };
      },
    );
    this.cancelFromInTransaction = db.transaction(
      (
        seriesId: string,
        from: string,
        ending: SeriesRule | undefined,
        by: Canceller,
        now: number,
      ): CancelFromResult => {
        const row = s.seriesById.get(seriesId, at);
        if (!row || (!by.staff && row.member_id !== by.memberId))
          return { outcome: 'not_found', cancelled: 0 };
        const cancelled = s.cancelDatesFrom.run(now, by.memberId, seriesId, from, now).changes;
        s.cutSeries.run(ending?.rrule ?? row.rrule, ending ? null : (row.cancelled_at ?? now), seriesId);
        return {
          outcome: 'cancelled',
          cancelled,
          series: toSeries(s.seriesById.get(seriesId, at) as SeriesRow),
        };
      },
    );
    this.moveInTransaction = db.transaction(
      (id: string, to: Interval, by: Canceller, now: number): MoveResult => {
        const row = s.byId.get(id, at);
        if (!row || (!by.staff && row.member_id !== by.memberId)) return { ok: false, reason: 'not_found' };
        if (row.end_ms <= now || (row.status !== 'booked' && row.status !== 'checked_in'))
          return { ok: false, reason: 'already_ended' };
        const clash = s.clashOther.get(at, row.space_id, id, to.end, to.start);
        if (clash) return { ok: false, reason: 'slot_taken', conflict: interval(clash) };
        s.move.run(to.start, to.end, id);
        return { ok: true, booking: toBooking(s.byId.get(id, at) as BookingRow) };
      },
    );
    this.createInTransaction = db.transaction(
      (row: Record<string, string | number>): BookingRow | undefined => {
        const clash = s.clash.get(at, row.space_id as string, row.end_ms as number, row.start_ms as number);
        if (clash) return clash;
        s.insert.run(row);
        return undefined;
      },
    );
  }

  /** Books the space unless an active booking overlaps; exactly one of any set of overlapping requests wins. */
  async create(input: NewBooking, now: number = Date.now()): Promise<CreateResult> {
    const row = {
      id: randomUUID(),
      site: this.site,
      member_id: input.memberId,
      space_id: input.spaceId,
      start_ms: input.start,
      end_ms: input.end,
      created_at: now,
    };
    let clash: BookingRow | undefined;
    try {
      clash = this.createInTransaction.immediate(row);
    } catch (err) {
      if (!isOverlapRefusal(err)) throw err;
      // Only a writer outside this store gets here (the trigger saw what our check did not).
      clash = this.statements.clash.get(this.site, input.spaceId, input.end, input.start);
      return { ok: false, reason: 'slot_taken', conflict: clash ? interval(clash) : interval(row) };
    }
    if (clash) return { ok: false, reason: 'slot_taken', conflict: interval(clash) };
    return { ok: true, booking: this.#get(row.id) as Booking };
  }

  async get(id: string): Promise<Booking | undefined> {
    return this.#get(id);
  }

  #get(id: string): Booking | undefined {
    const row = this.statements.byId.get(id, this.site);
    return row ? toBooking(row) : undefined;
  }

  /**
   * Cancels an active booking that has not ended yet. A member asking about someone else's booking hears
   * 'not_found', exactly as for an id that does not exist.
   */
  async cancel(id: string, by: Canceller, now: number = Date.now()): Promise<CancelResult> {
    const booking = this.#get(id);
    if (!booking || (!by.staff && booking.memberId !== by.memberId)) return 'not_found';
    if (booking.end <= now) return 'already_ended';
    const changed = this.statements.cancel.run(now, by.memberId, id, this.site).changes;
    return changed === 1 ? 'cancelled' : 'already_ended';
  }

  /** A member's bookings (every status) overlapping the range, by start. */
  async listMine(memberId: string, range: Interval = EVER): Promise<Booking[]> {
    return this.statements.ofMember
      .all(this.site, memberId, range.end, range.start, MAX_LISTED)
      .map(toBooking);
  }

  /** Everyone's bookings (every status) overlapping the range, by start: for staff. */
  async listAll(range: Interval = EVER): Promise<Booking[]> {
    return this.statements.all.all(this.site, range.end, range.start, MAX_LISTED).map(toBooking);
  }

  /** A non-cancelled, non-released booking of that member and space whose [start - grace, end) contains `at`. */
  async coveringBooking(
    memberId: string,
    spaceId: string,
    at: number,
    graceBeforeMs: number,
  ): Promise<Booking | undefined> {
    const row = this.statements.covering.get(this.site, memberId, spaceId, at + graceBeforeMs, at);
    return row ? toBooking(row) : undefined;
  }

  /** Active bookings of the space overlapping [from, to), by start. */
  async spaceBookings(spaceId: string, from: number, to: number): Promise<Booking[]> {
    return this.statements.inSpace.all(this.site, spaceId, to, from, MAX_LISTED).map(toBooking);
  }

  /** Marks presence: 'booked' -> 'checked_in'. Returns the booking when it changed, else undefined. */
  async checkIn(id: string, at: number): Promise<Booking | undefined> {
    return this.statements.checkIn.run(at, id, this.site).changes === 1 ? this.#get(id) : undefined;
  }

  /** Releases a no-show: 'booked' -> 'released', freeing the slot. Undefined when it was not 'booked' any more. */
  async release(id: string, at: number): Promise<Booking | undefined> {
    return this.statements.release.run(at, id, this.site).changes === 1 ? this.#get(id) : undefined;
  }

  /** Bookings still waiting for presence that started at or before `startedBy`: candidates for release. */
  async unconfirmed(startedBy: number): Promise<Booking[]> {
    return this.statements.unconfirmed.all(this.site, startedBy).map(toBooking);
  }

  /**
   * For the board report: every booking overlapping the range, with no limit (a year of a whole building),
   * four columns each, and when the records begin.
   */
  async spansWithin(range: Interval): Promise<BookedSpans> {
    const spans = this.statements.spans.all(this.site, range.end, range.start).map((r) => ({
      spaceId: r.space_id,
      start: r.start_ms,
      end: r.end_ms,
      status: r.status,
    }));
    return { spans, firstStart: this.statements.firstStart.get(this.site)?.first ?? null };
  }

  /**
   * Bookings made elsewhere, taken as they are, with their ids, status and outcome (still booked, checked
   * in, released as a no-show) and without the member-facing rules (opening hours, lengths, booking ahead):
   * the simulated building's history and its bookings ahead. Ids are the caller's, so importing the same
   * bookings twice adds nothing. The one rule of the store still holds: no two active bookings of a space
   * overlap (those are refused and counted).
   */
  async importBookings(bookings: readonly Booking[]): Promise<ImportResult> {
    return this.importInTransaction.immediate(bookings);
  }

  /** Booked vs really used per space within the period. */
  async usage(range: Interval): Promise<SpaceUsage[]> {
    const { start, end } = range;
    return this.statements.usage.all(end, start, end, start, this.site, end, start).map((u) => ({
      ...u,
      bookedMs: u.bookedMs ?? 0,
      usedMs: u.usedMs ?? 0,
    }));
  }

  /** The dates whose time an active booking of the space takes, each with the first one in the way. */
  async seriesConflicts(
    spaceId: string,
    occurrences: readonly Occurrence[],
    replacing?: Replacing,
  ): Promise<DateConflict[]> {
    return this.conflictsOf(spaceId, occurrences, replacing);
  }

  /**
   * Saves the series and books its dates in one `BEGIN IMMEDIATE` transaction: the conflicts are those at
   * the moment of saving, not those of the preview, and all-or-nothing leaves no row behind.
   */
  async createSeries(
    input: NewSeries,
    mode: SeriesConflictMode,
    now: number = Date.now(),
  ): Promise<CreateSeriesResult> {
    return this.seriesInTransaction.immediate(input, mode, now);
  }

  async getSeries(id: string): Promise<BookingSeries | undefined> {
    const row = this.statements.seriesById.get(id, this.site);
    return row ? toSeries(row) : undefined;
  }

  async seriesByIds(ids: readonly string[]): Promise<BookingSeries[]> {
    return [...new Set(ids)].flatMap((id) => {
      const row = this.statements.seriesById.get(id, this.site);
      return row ? [toSeries(row)] : [];
    });
  }

  async seriesBookings(seriesId: string): Promise<Booking[]> {
    return this.statements.seriesDates.all(seriesId, this.site).map(toBooking);
  }

  async cancelSeriesFrom(
    seriesId: string,
    fromOccurrence: string,
    ending: SeriesRule | undefined,
    by: Canceller,
    now: number = Date.now(),
  ): Promise<CancelFromResult> {
    return this.cancelFromInTransaction.immediate(seriesId, fromOccurrence, ending, by, now);
  }

  /** In one `BEGIN IMMEDIATE` transaction; a refusal after the old dates were given up rolls it all back. */
  async changeSeriesFrom(
    change: SeriesChange,
    mode: SeriesConflictMode,
    by: Canceller,
    now: number = Date.now(),
  ): Promise<ChangeSeriesResult> {
    try {
      return this.changeInTransaction.immediate(change, mode, by, now);
    } catch (err) {
      if (err instanceof ChangeRefused) return err.result;
      throw err;
    }
  }

  async visitorsFrom(seriesId: string, fromOccurrence: string): Promise<string[]> {
    return this.statements.visitorsFrom.all(seriesId, fromOccurrence).map((v) => v.occurrence);
  }

  async moveBooking(id: string, to: Interval, by: Canceller, now: number = Date.now()): Promise<MoveResult> {
    try {
      return this.moveInTransaction.immediate(id, to, by, now);
    } catch (err) {
      if (!isOverlapRefusal(err)) throw err;
      return { ok: false, reason: 'slot_taken', conflict: to };
    }
  }

  /**
   * The change count of this connection (this process's own writes) and SQLite's data_version (writes by
   * any other connection, e.g. the CLI or the simulated history). Both cost no I/O.
   */
  async changeMarker(): Promise<string> {
    return `${this.statements.changes.get() as number}:${this.#db.pragma('data_version', { simple: true }) as number}`;
  }
}
const EVER: Interval = { start: Number.MIN_SAFE_INTEGER, end: Number.MAX_SAFE_INTEGER };

function interval(row: { start_ms: number; end_ms: number }): Interval {
  return { start: row.start_ms, end: row.end_ms };
}

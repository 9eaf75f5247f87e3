import { randomUUID } from 'node:crypto';
import type { RecordsDb } from '../database/database.ts';
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
 * Bookings in the records database (table bookings). The overlap check and the insert run in one
 * `BEGIN IMMEDIATE` transaction, which takes SQLite's write lock before reading, so concurrent requests —
 * from this process or another one on the same file — are serialised; a trigger in the schema refuses an
 * overlapping row whatever writes it.
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

export class SqliteBookingStore implements BookingStore {
  private readonly statements;
  private readonly createInTransaction;
  private readonly importInTransaction;

  readonly #db: RecordsDb;

  constructor(db: RecordsDb) {
    this.#db = db;
    this.statements = {
      changes: db.prepare('SELECT total_changes()').pluck(),
      byId: db.prepare<[string], BookingRow>('SELECT * FROM bookings WHERE id = ?'),
      clash: db.prepare<[string, number, number], BookingRow>(
        `SELECT * FROM bookings WHERE space_id = ? AND ${ACTIVE} AND start_ms < ? AND ? < end_ms
         ORDER BY start_ms LIMIT 1`,
      ),
      insert: db.prepare(
        `INSERT INTO bookings (id, member_id, space_id, start_ms, end_ms, status, created_at)
         VALUES (@id, @member_id, @space_id, @start_ms, @end_ms, 'booked', @created_at)`,
      ),
      insertImported: db.prepare(
        `INSERT INTO bookings (id, member_id, space_id, start_ms, end_ms, status, created_at, checked_in_at, released_at)
         VALUES (@id, @member_id, @space_id, @start_ms, @end_ms, @status, @created_at, @checked_in_at, @released_at)
         ON CONFLICT (id) DO NOTHING`,
      ),
      cancel: db.prepare<[number, string, string]>(
        `UPDATE bookings SET status = 'cancelled', cancelled_at = ?, cancelled_by = ? WHERE id = ? AND ${ACTIVE}`,
      ),
      checkIn: db.prepare<[number, string]>(
        `UPDATE bookings SET status = 'checked_in', checked_in_at = ? WHERE id = ? AND status = 'booked'`,
      ),
      release: db.prepare<[number, string]>(
        `UPDATE bookings SET status = 'released', released_at = ? WHERE id = ? AND status = 'booked'`,
      ),
      covering: db.prepare<[string, string, number, number], BookingRow>(
        `SELECT * FROM bookings WHERE member_id = ? AND space_id = ? AND ${ACTIVE}
         AND start_ms <= ? AND ? < end_ms ORDER BY start_ms LIMIT 1`,
      ),
      inSpace: db.prepare<[string, number, number, number], BookingRow>(
        `SELECT * FROM bookings WHERE space_id = ? AND ${ACTIVE} AND start_ms < ? AND ? < end_ms
         ORDER BY start_ms LIMIT ?`,
      ),
      ofMember: db.prepare<[string, number, number, number], BookingRow>(
        `SELECT * FROM bookings WHERE member_id = ? AND start_ms < ? AND ? < end_ms
         ORDER BY start_ms LIMIT ?`,
      ),
      all: db.prepare<[number, number, number], BookingRow>(
        'SELECT * FROM bookings WHERE start_ms < ? AND ? < end_ms ORDER BY start_ms LIMIT ?',
      ),
      unconfirmed: db.prepare<[number], BookingRow>(
        `SELECT * FROM bookings WHERE status = 'booked' AND start_ms <= ? ORDER BY start_ms`,
      ),
      spans: db.prepare<[number, number], SpanRow>(
        'SELECT space_id, start_ms, end_ms, status FROM bookings WHERE start_ms < ? AND end_ms > ?',
      ),
      firstStart: db.prepare<[], { first: number | null }>('SELECT min(start_ms) AS first FROM bookings'),
      usage: db.prepare<[number, number, number, number, number, number], SpaceUsage>(
        `SELECT space_id AS spaceId,
                SUM(status <> 'cancelled') AS bookings,
                SUM(checked_in_at IS NOT NULL AND status <> 'cancelled') AS checkedIn,
                SUM(status = 'released') AS released,
                SUM(status = 'cancelled') AS cancelled,
                SUM(CASE WHEN status <> 'cancelled' THEN MIN(end_ms, ?) - MAX(start_ms, ?) ELSE 0 END) AS bookedMs,
                SUM(CASE WHEN checked_in_at IS NOT NULL AND status <> 'cancelled'
                         THEN MIN(end_ms, ?) - MAX(start_ms, ?) ELSE 0 END) AS usedMs
         FROM bookings WHERE start_ms < ? AND ? < end_ms GROUP BY space_id ORDER BY space_id`,
      ),
    };
    const s = this.statements;
    this.importInTransaction = db.transaction((bookings: readonly Booking[]): ImportResult => {
      const result: ImportResult = { added: 0, existing: 0, refused: 0 };
      for (const b of bookings) {
        if (s.byId.get(b.id)) {
          result.existing++;
          continue;
        }
        const active = b.status === 'booked' || b.status === 'checked_in';
        if (active && s.clash.get(b.spaceId, b.end, b.start)) {
          result.refused++;
          continue;
        }
        s.insertImported.run({
          id: b.id,
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
    this.createInTransaction = db.transaction(
      (row: Record<string, string | number>): BookingRow | undefined => {
        const clash = s.clash.get(row.space_id as string, row.end_ms as number, row.start_ms as number);
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
      clash = this.statements.clash.get(input.spaceId, input.end, input.start);
      return { ok: false, reason: 'slot_taken', conflict: clash ? interval(clash) : interval(row) };
    }
    if (clash) return { ok: false, reason: 'slot_taken', conflict: interval(clash) };
    return { ok: true, booking: this.#get(row.id) as Booking };
  }

  async get(id: string): Promise<Booking | undefined> {
    return this.#get(id);
  }

  #get(id: string): Booking | undefined {
    const row = this.statements.byId.get(id);
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
    const changed = this.statements.cancel.run(now, by.memberId, id).changes;
    return changed === 1 ? 'cancelled' : 'already_ended';
  }

  /** A member's bookings (every status) overlapping the range, by start. */
  async listMine(memberId: string, range: Interval = EVER): Promise<Booking[]> {
    return this.statements.ofMember.all(memberId, range.end, range.start, MAX_LISTED).map(toBooking);
  }

  /** Everyone's bookings (every status) overlapping the range, by start: for staff. */
  async listAll(range: Interval = EVER): Promise<Booking[]> {
    return this.statements.all.all(range.end, range.start, MAX_LISTED).map(toBooking);
  }

  /** A non-cancelled, non-released booking of that member and space whose [start - grace, end) contains `at`. */
  async coveringBooking(
    memberId: string,
    spaceId: string,
    at: number,
    graceBeforeMs: number,
  ): Promise<Booking | undefined> {
    const row = this.statements.covering.get(memberId, spaceId, at + graceBeforeMs, at);
    return row ? toBooking(row) : undefined;
  }

  /** Active bookings of the space overlapping [from, to), by start. */
  async spaceBookings(spaceId: string, from: number, to: number): Promise<Booking[]> {
    return this.statements.inSpace.all(spaceId, to, from, MAX_LISTED).map(toBooking);
  }

  /** Marks presence: 'booked' -> 'checked_in'. Returns the booking when it changed, else undefined. */
  async checkIn(id: string, at: number): Promise<Booking | undefined> {
    return this.statements.checkIn.run(at, id).changes === 1 ? this.#get(id) : undefined;
  }

  /** Releases a no-show: 'booked' -> 'released', freeing the slot. Undefined when it was not 'booked' any more. */
  async release(id: string, at: number): Promise<Booking | undefined> {
    return this.statements.release.run(at, id).changes === 1 ? this.#get(id) : undefined;
  }

  /** Bookings still waiting for presence that started at or before `startedBy`: candidates for release. */
  async unconfirmed(startedBy: number): Promise<Booking[]> {
    return this.statements.unconfirmed.all(startedBy).map(toBooking);
  }

  /**
   * For the board report: every booking overlapping the range, with no limit (a year of a whole building),
   * four columns each, and when the records begin.
   */
  async spansWithin(range: Interval): Promise<BookedSpans> {
    const spans = this.statements.spans.all(range.end, range.start).map((r) => ({
      spaceId: r.space_id,
      start: r.start_ms,
      end: r.end_ms,
      status: r.status,
    }));
    return { spans, firstStart: this.statements.firstStart.get()?.first ?? null };
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
    return this.statements.usage.all(end, start, end, start, end, start).map((u) => ({
      ...u,
      bookedMs: u.bookedMs ?? 0,
      usedMs: u.usedMs ?? 0,
    }));
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

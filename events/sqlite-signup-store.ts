import { randomUUID } from 'node:crypto';
import type { RecordsDb } from '../database/database.ts';
import {
  COUNTS_SELECT,
  type CountsRow,
  SIGNUP_COLUMNS,
  type SignUpRow,
  toCounts,
  toSignUp,
} from './signup-rows.ts';
import { movingUp, placeSignUp } from './signup-rules.ts';
import {
  type CancelResult,
  cancelTokenHash,
  type DateCounts,
  type NewSignUp,
  newCancelToken,
  type SignUp,
  type SignUpResult,
  type SignUpStore,
} from './signup-store.ts';

/**
 * Sign-ups in the records file. Each step that reads the date's places and writes a sign-up runs in one
 * `BEGIN IMMEDIATE` transaction (the write lock first), so two visitors never take the same last place.
 */
export class SqliteSignUpStore implements SignUpStore {
  private readonly signUpTx;
  private readonly cancelTx;
  private readonly purgeTx;
  private readonly s;

  constructor(db: RecordsDb) {
    const s = {
      ensure: db.prepare<[string, string]>(
        'INSERT OR IGNORE INTO event_date_counts (event_id, date_id) VALUES (?, ?)',
      ),
      counts: db.prepare<[string, string], { confirmed_places: number; next_position: number }>(
        'SELECT confirmed_places, next_position FROM event_date_counts WHERE event_id = ? AND date_id = ?',
      ),
      waiting: db.prepare<[string, string], SignUpRow>(
        `SELECT ${SIGNUP_COLUMNS} FROM event_signups WHERE event_id = ? AND date_id = ? AND status = 'waiting' ORDER BY position`,
      ),
      insert: db.prepare(
        `INSERT INTO event_signups (id, event_id, date_id, places, email, cancel_hash, status, position, created_at)
         VALUES (@id, @event_id, @date_id, @places, @email, @cancel_hash, @status, @position, @created_at)`,
      ),
      added: db.prepare<[number, number, number, string, string]>(
        `UPDATE event_date_counts SET confirmed_places = confirmed_places + ?, waiting_places = waiting_places + ?,
           signups = signups + 1, next_position = next_position + 1, cancelled_places = cancelled_places + ?
         WHERE event_id = ? AND date_id = ?`,
      ),
      byHash: db.prepare<[string], SignUpRow>(
        `SELECT ${SIGNUP_COLUMNS} FROM event_signups WHERE cancel_hash = ?`,
      ),
      setStatus: db.prepare<[string, string]>('UPDATE event_signups SET status = ? WHERE id = ?'),
      byId: db.prepare<[string], SignUpRow>(`SELECT ${SIGNUP_COLUMNS} FROM event_signups WHERE id = ?`),
      move: db.prepare<[number, number, number, string, string]>(
        `UPDATE event_date_counts SET confirmed_places = confirmed_places + ?, waiting_places = waiting_places + ?,
           cancelled_places = cancelled_places + ?
         WHERE event_id = ? AND date_id = ?`,
      ),
      range: db.prepare<[number, number], CountsRow>(
        `${COUNTS_SELECT} WHERE b.start_ms >= ? AND b.start_ms < ? ORDER BY b.start_ms, c.event_id`,
      ),
      one: db.prepare<[string, string], CountsRow>(`${COUNTS_SELECT} WHERE c.event_id = ? AND c.date_id = ?`),
      attendance: db.prepare<[number, string, number, string, string]>(
        `UPDATE event_date_counts SET attended = ?, attended_by = ?, attended_at = ? WHERE event_id = ? AND date_id = ?`,
      ),
      over: db.prepare<[number], { event_id: string; date_id: string }>(
        `SELECT DISTINCT s.event_id, s.date_id FROM event_signups s
           JOIN bookings b ON b.id = s.date_id JOIN events e ON e.id = s.event_id
         WHERE b.end_ms <= ? OR b.status IN ('cancelled', 'released') OR e.cancelled_at IS NOT NULL`,
      ),
      forget: db.prepare<[string, string]>('DELETE FROM event_signups WHERE event_id = ? AND date_id = ?'),
      purged: db.prepare<[number, string, string]>(
        `UPDATE event_date_counts SET purged_at = ? WHERE event_id = ? AND date_id = ?`,
      ),
    };
    this.s = s;

    this.signUpTx = db.transaction((input: NewSignUp, now: number): SignUpResult => {
      s.ensure.run(input.eventId, input.dateId);
      const counts = s.counts.get(input.eventId, input.dateId) as {
        confirmed_places: number;
        next_position: number;
      };
      const waiting = s.waiting.all(input.eventId, input.dateId);
      const placement = placeSignUp(
        { capacity: input.capacity, confirmed: counts.confirmed_places, waiting },
        input.places,
      );
      if (placement === 'too_many') return { ok: false, reason: 'too_many' };
      const { token, hash } = newCancelToken();
      const id = randomUUID();
      s.insert.run({
        id,
        event_id: input.eventId,
        date_id: input.dateId,
        places: input.places,
        email: input.email,
        cancel_hash: hash,
        status: placement,
        position: counts.next_position,
        created_at: now,
      });
      const confirmed = placement === 'confirmed' ? input.places : 0;
      s.added.run(confirmed, input.places - confirmed, 0, input.eventId, input.dateId);
      return { ok: true, signUp: toSignUp(s.byId.get(id) as SignUpRow), cancelToken: token };
    });

    this.cancelTx = db.transaction((hash: string, capacity: number | null): CancelResult | undefined => {
      const row = s.byHash.get(hash);
      if (!row || row.status === 'cancelled') return undefined;
      s.setStatus.run('cancelled', row.id);
      const wasConfirmed = row.status === 'confirmed';
      s.move.run(
        wasConfirmed ? -row.places : 0,
        wasConfirmed ? 0 : -row.places,
        row.places,
        row.event_id,
        row.date_id,
      );
      const counts = s.counts.get(row.event_id, row.date_id) as { confirmed_places: number };
      const waiting = s.waiting.all(row.event_id, row.date_id);
      const up = new Set(movingUp({ capacity, confirmed: counts.confirmed_places, waiting }));
      const movedUp: SignUp[] = [];
      for (const w of waiting) {
        if (!up.has(w.id)) continue;
        s.setStatus.run('confirmed', w.id);
        s.move.run(w.places, -w.places, 0, w.event_id, w.date_id);
        movedUp.push({ ...toSignUp(w), status: 'confirmed' });
      }
      return { cancelled: { ...toSignUp(row), status: 'cancelled' }, movedUp };
    });

    this.purgeTx = db.transaction((now: number): number => {
      let removed = 0;
      for (const d of s.over.all(now)) {
        removed += s.forget.run(d.event_id, d.date_id).changes;
        s.purged.run(now, d.event_id, d.date_id);
      }
      return removed;
    });
  }

  async signUp(input: NewSignUp, now: number): Promise<SignUpResult> {
    return this.signUpTx.immediate(input, now);
  }

  async byToken(token: string): Promise<SignUp | undefined> {
    const row = this.s.byHash.get(cancelTokenHash(token));
    return row ? toSignUp(row) : undefined;
  }

  async cancel(token: string, capacity: number | null, _now: number): Promise<CancelResult | undefined> {
    return this.cancelTx.immediate(cancelTokenHash(token), capacity);
  }

  async counts(range: { start: number; end: number }): Promise<DateCounts[]> {
    return this.s.range.all(range.start, range.end).map(toCounts);
  }

  async countsOf(eventId: string, dateId: string): Promise<DateCounts | undefined> {
    const row = this.s.one.get(eventId, dateId);
    return row ? toCounts(row) : undefined;
  }

  async recordAttendance(
    eventId: string,
    dateId: string,
    attended: number,
    by: string,
    now: number,
  ): Promise<void> {
    this.s.ensure.run(eventId, dateId);
    this.s.attendance.run(attended, by, now, eventId, dateId);
  }

  async purgeEnded(now: number): Promise<number> {
    return this.purgeTx.immediate(now);
  }
}

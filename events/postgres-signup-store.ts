import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { inTransaction, type PostgresRecords } from '../database/postgres.ts';
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
 * Sign-ups in PostgreSQL. Each step that reads the date's places and writes a sign-up holds the date's counts
 * row (`SELECT … FOR UPDATE`) for its transaction, so two visitors never take the same last place.
 */
export class PostgresSignUpStore implements SignUpStore {
  constructor(private readonly pool: PostgresRecords) {}

  /** The date's counts row, made when missing, locked until the transaction ends. */
  private async lockDate(client: pg.PoolClient, eventId: string, dateId: string) {
    await client.query(
      'INSERT INTO event_date_counts (event_id, date_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [eventId, dateId],
    );
    const counts = (
      await client.query<{ confirmed_places: number; next_position: number }>(
        'SELECT confirmed_places, next_position FROM event_date_counts WHERE event_id = $1 AND date_id = $2 FOR UPDATE',
        [eventId, dateId],
      )
    ).rows[0] as { confirmed_places: number; next_position: number };
    const waiting = (
      await client.query<SignUpRow>(
        `SELECT ${SIGNUP_COLUMNS} FROM event_signups WHERE event_id = $1 AND date_id = $2 AND status = 'waiting' ORDER BY position`,
        [eventId, dateId],
      )
    ).rows;
    return { counts, waiting };
  }

  private static async move(
    client: pg.PoolClient,
    eventId: string,
    dateId: string,
    confirmed: number,
    waiting: number,
    cancelled: number,
  ) {
    await client.query(
      `UPDATE event_date_counts SET confirmed_places = confirmed_places + $1, waiting_places = waiting_places + $2,
         cancelled_places = cancelled_places + $3 WHERE event_id = $4 AND date_id = $5`,
      [confirmed, waiting, cancelled, eventId, dateId],
    );
  }

  async signUp(input: NewSignUp, now: number): Promise<SignUpResult> {
    return inTransaction(this.pool, async (client) => {
      const { counts, waiting } = await this.lockDate(client, input.eventId, input.dateId);
      const placement = placeSignUp(
        { capacity: input.capacity, confirmed: counts.confirmed_places, waiting },
        input.places,
      );
      if (placement === 'too_many') return { ok: false, reason: 'too_many' } as const;
      const { token, hash } = newCancelToken();
      const row = (
        await client.query<SignUpRow>(
          `INSERT INTO event_signups (id, event_id, date_id, places, email, cancel_hash, status, position, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${SIGNUP_COLUMNS}`,
          [
            randomUUID(),
            input.eventId,
            input.dateId,
            input.places,
            input.email,
            hash,
            placement,
            counts.next_position,
            now,
          ],
        )
      ).rows[0] as SignUpRow;
      const confirmed = placement === 'confirmed' ? input.places : 0;
      await client.query(
        `UPDATE event_date_counts SET confirmed_places = confirmed_places + $1, waiting_places = waiting_places + $2,
           signups = signups + 1, next_position = next_position + 1 WHERE event_id = $3 AND date_id = $4`,
        [confirmed, input.places - confirmed, input.eventId, input.dateId],
      );
      return { ok: true, signUp: toSignUp(row), cancelToken: token } as const;
    });
  }

  async byToken(token: string): Promise<SignUp | undefined> {
    const row = (
      await this.pool.query<SignUpRow>(`SELECT ${SIGNUP_COLUMNS} FROM event_signups WHERE cancel_hash = $1`, [
        cancelTokenHash(token),
      ])
    ).rows[0];
    return row ? toSignUp(row) : undefined;
  }

  async cancel(token: string, capacity: number | null, _now: number): Promise<CancelResult | undefined> {
    const found = await this.byToken(token);
    if (!found) return undefined;
    return inTransaction(this.pool, async (client) => {
      await this.lockDate(client, found.eventId, found.dateId);
      // Read again under the date's lock: a second cancel of the same token waits here and finds it cancelled.
      const row = (
        await client.query<SignUpRow>(`SELECT ${SIGNUP_COLUMNS} FROM event_signups WHERE id = $1`, [found.id])
      ).rows[0];
      if (!row || row.status === 'cancelled') return undefined;
      await client.query(`UPDATE event_signups SET status = 'cancelled' WHERE id = $1`, [row.id]);
      const wasConfirmed = row.status === 'confirmed';
      await PostgresSignUpStore.move(
        client,
        row.event_id,
        row.date_id,
        wasConfirmed ? -row.places : 0,
        wasConfirmed ? 0 : -row.places,
        row.places,
      );
      const { counts, waiting } = await this.lockDate(client, row.event_id, row.date_id);
      const up = new Set(movingUp({ capacity, confirmed: counts.confirmed_places, waiting }));
      const movedUp: SignUp[] = [];
      for (const w of waiting) {
        if (!up.has(w.id)) continue;
        await client.query(`UPDATE event_signups SET status = 'confirmed' WHERE id = $1`, [w.id]);
        await PostgresSignUpStore.move(client, w.event_id, w.date_id, w.places, -w.places, 0);
        movedUp.push({ ...toSignUp(w), status: 'confirmed' });
      }
      return { cancelled: { ...toSignUp(row), status: 'cancelled' as const }, movedUp };
    });
  }

  async counts(range: { start: number; end: number }): Promise<DateCounts[]> {
    const { rows } = await this.pool.query<CountsRow>(
      `${COUNTS_SELECT} WHERE b.start_ms >= $1 AND b.start_ms < $2 ORDER BY b.start_ms, c.event_id`,
      [range.start, range.end],
    );
    return rows.map(toCounts);
  }

  async countsOf(eventId: string, dateId: string): Promise<DateCounts | undefined> {
    const row = (
      await this.pool.query<CountsRow>(`${COUNTS_SELECT} WHERE c.event_id = $1 AND c.date_id = $2`, [
        eventId,
        dateId,
      ])
    ).rows[0];
    return row ? toCounts(row) : undefined;
  }

  async recordAttendance(
    eventId: string,
    dateId: string,
    attended: number,
    by: string,
    now: number,
  ): Promise<void> {
    await this.pool.query(
      `INSERT INTO event_date_counts (event_id, date_id, attended, attended_by, attended_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (event_id, date_id) DO UPDATE SET attended = $3, attended_by = $4, attended_at = $5`,
      [eventId, dateId, attended, by, now],
    );
  }

  async purgeEnded(now: number): Promise<number> {
    return inTransaction(this.pool, async (client) => {
      const over = (
        await client.query<{ event_id: string; date_id: string }>(
          `SELECT DISTINCT s.event_id, s.date_id FROM event_signups s
             JOIN bookings b ON b.id = s.date_id JOIN events e ON e.id = s.event_id
           WHERE b.end_ms <= $1 OR b.status IN ('cancelled', 'released') OR e.cancelled_at IS NOT NULL`,
          [now],
        )
      ).rows;
      let removed = 0;
      for (const d of over) {
        await client.query(
          'SELECT 1 FROM event_date_counts WHERE event_id = $1 AND date_id = $2 FOR UPDATE',
          [d.event_id, d.date_id],
        );
        removed +=
          (
            await client.query('DELETE FROM event_signups WHERE event_id = $1 AND date_id = $2', [
              d.event_id,
              d.date_id,
            ])
          ).rowCount ?? 0;
        await client.query(
          'UPDATE event_date_counts SET purged_at = $1 WHERE event_id = $2 AND date_id = $3',
          [now, d.event_id, d.date_id],
        );
      }
      return removed;
    });
  }
}

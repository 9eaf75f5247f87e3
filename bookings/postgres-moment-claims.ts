import type { PostgresRecords } from '../database/postgres.ts';
import type { BookingMoment, MomentClaims } from './booking-clock.ts';

/** Claims of told booking moments in PostgreSQL (table booking_moments_told). */
export class PostgresMomentClaims implements MomentClaims {
  constructor(private readonly pool: PostgresRecords) {}

  async claim(bookingId: string, moment: BookingMoment, at: number): Promise<boolean> {
    // The primary key decides: of every process inserting the same moment, one inserts a row.
    const { rowCount } = await this.pool.query(
      'INSERT INTO booking_moments_told (booking_id, moment, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [bookingId, moment, at],
    );
    return rowCount === 1;
  }

  async prune(before: number): Promise<number> {
    return (await this.pool.query('DELETE FROM booking_moments_told WHERE at < $1', [before])).rowCount ?? 0;
  }
}

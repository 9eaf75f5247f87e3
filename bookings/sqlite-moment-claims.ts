import type { RecordsDb } from '../database/database.ts';
import type { BookingMoment, MomentClaims } from './booking-clock.ts';

/** Claims of told booking moments in the records database (table booking_moments_told, migration 0100). */
export class SqliteMomentClaims implements MomentClaims {
  constructor(private readonly records: RecordsDb) {}

  async claim(bookingId: string, moment: BookingMoment, at: number): Promise<boolean> {
    // The primary key decides: of every process inserting the same moment, one inserts a row.
    return (
      this.records
        .prepare(
          'INSERT INTO booking_moments_told (booking_id, moment, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
        )
        .run(bookingId, moment, at).changes === 1
    );
  }

  async prune(before: number): Promise<number> {
    return this.records.prepare('DELETE FROM booking_moments_told WHERE at < ?').run(before).changes;
  }
}

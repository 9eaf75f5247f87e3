import { inTransaction, type PostgresRecords } from '../database/postgres.ts';
import {
  type CalendarTokens,
  hashCalendarToken,
  isCalendarToken,
  newCalendarToken,
} from './calendar-feed.ts';

/** Calendar tokens in PostgreSQL (table calendar_tokens): one per member, only its SHA-256. */
export class PostgresCalendarTokens implements CalendarTokens {
  constructor(private readonly pool: PostgresRecords) {}

  /** A new token for the member (shown once); any earlier one stops working. */
  async issue(memberId: string, now: number = Date.now()): Promise<string> {
    const token = newCalendarToken();
    await inTransaction(this.pool, async (client) => {
      await client.query('DELETE FROM calendar_tokens WHERE member_id = $1', [memberId]);
      await client.query(
        'INSERT INTO calendar_tokens (token_hash, member_id, created_at) VALUES ($1, $2, $3)',
        [hashCalendarToken(token), memberId, now],
      );
    });
    return token;
  }

  /** Revokes the member's feed; true if there was one. */
  async revoke(memberId: string): Promise<boolean> {
    return (
      ((await this.pool.query('DELETE FROM calendar_tokens WHERE member_id = $1', [memberId])).rowCount ??
        0) > 0
    );
  }

  /** When the member's current token was issued, if there is one. */
  async issuedAt(memberId: string): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ created_at: number }>(
      'SELECT created_at FROM calendar_tokens WHERE member_id = $1',
      [memberId],
    );
    return rows[0]?.created_at;
  }

  /** The member a token belongs to; undefined for a malformed, unknown or revoked token or a disabled member. */
  async memberFor(token: string): Promise<string | undefined> {
    if (!isCalendarToken(token)) return undefined;
    const { rows } = await this.pool.query<{ member_id: string }>(
      `SELECT t.member_id FROM calendar_tokens t JOIN members m ON m.id = t.member_id
       WHERE t.token_hash = $1 AND NOT m.disabled`,
      [hashCalendarToken(token)],
    );
    return rows[0]?.member_id;
  }
}

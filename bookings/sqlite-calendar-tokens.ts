import type { RecordsDb } from '../database/database.ts';
import {
  type CalendarTokens,
  hashCalendarToken,
  isCalendarToken,
  newCalendarToken,
} from './calendar-feed.ts';

/** Calendar tokens in the records database (table calendar_tokens): one per member, only its SHA-256. */
export class SqliteCalendarTokens implements CalendarTokens {
  private readonly statements;

  constructor(records: RecordsDb) {
    this.statements = {
      remove: records.prepare<[string]>('DELETE FROM calendar_tokens WHERE member_id = ?'),
      insert: records.prepare<[string, string, number]>(
        'INSERT INTO calendar_tokens (token_hash, member_id, created_at) VALUES (?, ?, ?)',
      ),
      member: records.prepare<[string], { member_id: string }>(
        `SELECT t.member_id FROM calendar_tokens t JOIN members m ON m.id = t.member_id
         WHERE t.token_hash = ? AND m.disabled = 0`,
      ),
      created: records.prepare<[string], { created_at: number }>(
        'SELECT created_at FROM calendar_tokens WHERE member_id = ?',
      ),
    };
    const s = this.statements;
    this.replace = records.transaction((memberId: string, hash: string, now: number) => {
      s.remove.run(memberId);
      s.insert.run(hash, memberId, now);
    });
  }

  private readonly replace: (memberId: string, hash: string, now: number) => void;

  /** A new token for the member (shown once); any earlier one stops working. */
  async issue(memberId: string, now: number = Date.now()): Promise<string> {
    const token = newCalendarToken();
    this.replace(memberId, hashCalendarToken(token), now);
    return token;
  }

  /** Revokes the member's feed; true if there was one. */
  async revoke(memberId: string): Promise<boolean> {
    return this.statements.remove.run(memberId).changes > 0;
  }

  /** When the member's current token was issued, if there is one. */
  async issuedAt(memberId: string): Promise<number | undefined> {
    return this.statements.created.get(memberId)?.created_at;
  }

  /** The member a token belongs to; undefined for a malformed, unknown or revoked token or a disabled member. */
  async memberFor(token: string): Promise<string | undefined> {
    if (!isCalendarToken(token)) return undefined;
    return this.statements.member.get(hashCalendarToken(token))?.member_id;
  }
}

import type { Member } from '../access/roles.ts';
import type { RecordsDb } from '../database/database.ts';
import type { MemberStore } from './member-store.ts';
import { newToken, tokenId } from './tokens.ts';

export interface SessionLifetime {
  /** A session unused this long ends (sliding). */
  idleMs: number;
  /** A session ends this long after sign-in, however busy. */
  absoluteMs: number;
}

export const DEFAULT_SESSION_LIFETIME: SessionLifetime = {
  idleMs: 12 * 3_600_000,
  absoluteMs: 30 * 24 * 3_600_000,
};

/** last_seen is written at most this often, so reads do not turn every request into a write. */
const TOUCH_EVERY_MS = 60_000;

interface SessionRow {
  member_id: string;
  expires_at: number;
  last_seen: number;
}

/** Signed-in sessions: random tokens handed to the client, kept only as their SHA-256. */
export class SessionStore {
  constructor(
    private readonly records: RecordsDb,
    private readonly members: MemberStore,
    readonly lifetime: SessionLifetime = DEFAULT_SESSION_LIFETIME,
  ) {}

  start(memberId: string, now = Date.now()): { token: string; expiresAt: number } {
    // Dead sessions are never honoured; clearing them at each sign-in keeps the table to live ones.
    this.prune(now);
    const token = newToken();
    const expiresAt = now + this.lifetime.absoluteMs;
    this.records
      .prepare(
        'INSERT INTO sessions (id, member_id, created_at, expires_at, last_seen) VALUES (?, ?, ?, ?, ?)',
      )
      .run(tokenId(token), memberId, now, expiresAt, now);
    return { token, expiresAt };
  }

  /**
   * The member a token belongs to, if the session is alive and the member enabled; ends dead sessions.
   * `touch: false` for checks that are not the member's own use (an open socket asking whether it may stay
   * open), so that they do not keep an idle session alive.
   */
  resolve(token: string, now = Date.now(), { touch = true }: { touch?: boolean } = {}): Member | undefined {
    const id = tokenId(token);
    const row = this.records
      .prepare('SELECT member_id, expires_at, last_seen FROM sessions WHERE id = ?')
      .get(id) as SessionRow | undefined;
    if (!row) return undefined;
    if (now >= row.expires_at || now - row.last_seen >= this.lifetime.idleMs) {
      this.records.prepare('DELETE FROM sessions WHERE id = ?').run(id);
      return undefined;
    }
    const member = this.members.findActive(row.member_id);
    if (!member) return undefined;
    if (touch && now - row.last_seen >= TOUCH_EVERY_MS) {
      this.records.prepare('UPDATE sessions SET last_seen = ? WHERE id = ?').run(now, id);
    }
    return member;
  }

  /** Sign-out: the token is worthless from now on. */
  end(token: string): boolean {
    return this.records.prepare('DELETE FROM sessions WHERE id = ?').run(tokenId(token)).changes > 0;
  }

  /** Drops sessions past their absolute or idle end (housekeeping; resolve() never honours them anyway). */
  prune(now = Date.now()): number {
    return this.records
      .prepare('DELETE FROM sessions WHERE expires_at <= ? OR last_seen <= ?')
      .run(now, now - this.lifetime.idleMs).changes;
  }
}

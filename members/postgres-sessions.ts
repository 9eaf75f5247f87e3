import type { Member } from '../access/roles.ts';
import type { PostgresRecords } from '../database/postgres.ts';
import type { MemberStore } from './member-store.ts';
import {
  DEFAULT_SESSION_LIFETIME,
  SESSION_ENDED_CHANNEL,
  type SessionLifetime,
  type SessionStore,
  TOUCH_EVERY_MS,
} from './sessions.ts';
import { newToken, tokenId } from './tokens.ts';

interface SessionRow {
  member_id: string;
  expires_at: number;
  last_seen: number;
}

/** Sessions in PostgreSQL (table sessions): a session started by one API process works on every other. */
export class PostgresSessionStore implements SessionStore {
  constructor(
    private readonly pool: PostgresRecords,
    private readonly members: MemberStore,
    readonly lifetime: SessionLifetime = DEFAULT_SESSION_LIFETIME,
  ) {}

  async start(memberId: string, now = Date.now()): Promise<{ token: string; expiresAt: number }> {
    // Dead sessions are never honoured; clearing them at each sign-in keeps the table to live ones.
    await this.prune(now);
    const token = newToken();
    const expiresAt = now + this.lifetime.absoluteMs;
    await this.pool.query(
      'INSERT INTO sessions (id, member_id, created_at, expires_at, last_seen) VALUES ($1, $2, $3, $4, $5)',
      [tokenId(token), memberId, now, expiresAt, now],
    );
    return { token, expiresAt };
  }

  async resolve(
    token: string,
    now = Date.now(),
    { touch = true }: { touch?: boolean } = {},
  ): Promise<Member | undefined> {
    const id = tokenId(token);
    const { rows } = await this.pool.query<SessionRow>(
      'SELECT member_id, expires_at, last_seen FROM sessions WHERE id = $1',
      [id],
    );
    const row = rows[0];
    if (!row) return undefined;
    if (now >= row.expires_at || now - row.last_seen >= this.lifetime.idleMs) {
      await this.pool.query('DELETE FROM sessions WHERE id = $1', [id]);
      return undefined;
    }
    const member = await this.members.findActive(row.member_id);
    if (!member) return undefined;
    if (touch && now - row.last_seen >= TOUCH_EVERY_MS) {
      // Never backwards: another process may have touched it with a later clock reading meanwhile.
      await this.pool.query('UPDATE sessions SET last_seen = GREATEST(last_seen, $1) WHERE id = $2', [
        now,
        id,
      ]);
    }
    return member;
  }

  async end(token: string): Promise<boolean> {
    // Told to every API process by the deleting statement itself, so heard only once the delete is committed:
    // their sockets opened with it close (records/records-news.ts).
    const { rowCount } = await this.pool.query(
      `WITH gone AS (DELETE FROM sessions WHERE id = $1 RETURNING id)
       SELECT pg_notify('${SESSION_ENDED_CHANNEL}', id) FROM gone`,
      [tokenId(token)],
    );
    return (rowCount ?? 0) > 0;
  }

  async prune(now = Date.now()): Promise<number> {
    return (
      (
        await this.pool.query('DELETE FROM sessions WHERE expires_at <= $1 OR last_seen <= $2', [
          now,
          now - this.lifetime.idleMs,
        ])
      ).rowCount ?? 0
    );
  }
}

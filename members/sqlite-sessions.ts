import type { Member } from '../access/roles.ts';
import type { RecordsDb } from '../database/database.ts';
import type { MemberStore } from './member-store.ts';
import {
  DEFAULT_SESSION_LIFETIME,
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

/** Sessions in the records database (table sessions). */
export class SqliteSessionStore implements SessionStore {
  constructor(
    private readonly records: RecordsDb,
    private readonly members: MemberStore,
    readonly lifetime: SessionLifetime = DEFAULT_SESSION_LIFETIME,
  ) {}

  async start(memberId: string, now = Date.now()): Promise<{ token: string; expiresAt: number }> {
    // Dead sessions are never honoured; clearing them at each sign-in keeps the table to live ones.
    await this.prune(now);
    const token = newToken();
    const expiresAt = now + this.lifetime.absoluteMs;
    this.records
      .prepare(
        'INSERT INTO sessions (id, member_id, created_at, expires_at, last_seen) VALUES (?, ?, ?, ?, ?)',
      )
      .run(tokenId(token), memberId, now, expiresAt, now);
    return { token, expiresAt };
  }

  async resolve(
    token: string,
    now = Date.now(),
    { touch = true }: { touch?: boolean } = {},
  ): Promise<Member | undefined> {
    const id = tokenId(token);
    const row = this.records
      .prepare('SELECT member_id, expires_at, last_seen FROM sessions WHERE id = ?')
      .get(id) as SessionRow | undefined;
    if (!row) return undefined;
    if (now >= row.expires_at || now - row.last_seen >= this.lifetime.idleMs) {
      this.records.prepare('DELETE FROM sessions WHERE id = ?').run(id);
      return undefined;
    }
    const member = await this.members.findActive(row.member_id);
    if (!member) return undefined;
    if (touch && now - row.last_seen >= TOUCH_EVERY_MS) {
      this.records.prepare('UPDATE sessions SET last_seen = ? WHERE id = ?').run(now, id);
    }
    return member;
  }

  async end(token: string): Promise<boolean> {
    return this.records.prepare('DELETE FROM sessions WHERE id = ?').run(tokenId(token)).changes > 0;
  }

  async prune(now = Date.now()): Promise<number> {
    return this.records
      .prepare('DELETE FROM sessions WHERE expires_at <= ? OR last_seen <= ?')
      .run(now, now - this.lifetime.idleMs).changes;
  }
}

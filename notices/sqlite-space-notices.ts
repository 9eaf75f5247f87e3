import type { RecordsDb } from '../database/database.ts';
import { noticeOf, SPACE_NOTICE_COLUMNS, type SpaceNoticeRow } from './space-notice-rows.ts';
import type { SpaceNotice, SpaceNotices } from './space-notices.ts';

/** The notices on spaces in the records file (table space_notices, migration 0120). */
export class SqliteSpaceNotices implements SpaceNotices {
  constructor(private readonly records: RecordsDb) {}

  async post(n: SpaceNotice): Promise<void> {
    this.records
      .prepare(
        `INSERT INTO space_notices (${SPACE_NOTICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (site, space, topic) DO UPDATE SET message = excluded.message, level = excluded.level,
           posted_at = excluded.posted_at, expires_at = excluded.expires_at, posted_by = excluded.posted_by`,
      )
      .run(n.site, n.space, n.topic, n.message, n.level, n.postedAt, n.expiresAt, n.postedBy);
  }

  async clear(site: string, space: string, topic: string): Promise<boolean> {
    return (
      this.records
        .prepare('DELETE FROM space_notices WHERE site = ? AND space = ? AND topic = ?')
        .run(site, space, topic).changes === 1
    );
  }

  async current(site: string, now: number, spaces?: readonly string[]): Promise<SpaceNotice[]> {
    if (spaces && spaces.length === 0) return [];
    const inSpaces = spaces ? ` AND space IN (${spaces.map(() => '?').join(', ')})` : '';
    const rows = this.records
      .prepare(
        `SELECT ${SPACE_NOTICE_COLUMNS} FROM space_notices WHERE site = ? AND expires_at > ?${inSpaces}
         ORDER BY posted_at, space, topic`,
      )
      .all(site, now, ...(spaces ?? [])) as SpaceNoticeRow[];
    return rows.map(noticeOf);
  }

  async prune(before: number): Promise<number> {
    return this.records.prepare('DELETE FROM space_notices WHERE expires_at < ?').run(before).changes;
  }
}

import type { PostgresRecords } from '../database/postgres.ts';
import { noticeOf, SPACE_NOTICE_COLUMNS, type SpaceNoticeRow } from './space-notice-rows.ts';
import type { SpaceNotice, SpaceNotices } from './space-notices.ts';

/** The notices on spaces in PostgreSQL (table space_notices). */
export class PostgresSpaceNotices implements SpaceNotices {
  constructor(private readonly pool: PostgresRecords) {}

  async post(n: SpaceNotice): Promise<void> {
    await this.pool.query(
      `INSERT INTO space_notices (${SPACE_NOTICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (site, space, topic) DO UPDATE SET message = excluded.message, level = excluded.level,
         posted_at = excluded.posted_at, expires_at = excluded.expires_at, posted_by = excluded.posted_by`,
      [n.site, n.space, n.topic, n.message, n.level, n.postedAt, n.expiresAt, n.postedBy],
    );
  }

  async clear(site: string, space: string, topic: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'DELETE FROM space_notices WHERE site = $1 AND space = $2 AND topic = $3',
      [site, space, topic],
    );
    return rowCount === 1;
  }

  async current(site: string, now: number, spaces?: readonly string[]): Promise<SpaceNotice[]> {
    if (spaces && spaces.length === 0) return [];
    const { rows } = await this.pool.query<SpaceNoticeRow>(
      `SELECT ${SPACE_NOTICE_COLUMNS} FROM space_notices WHERE site = $1 AND expires_at > $2
         AND ($3::text[] IS NULL OR space = ANY($3::text[]))
       ORDER BY posted_at, space, topic`,
      [site, now, spaces ? [...spaces] : null],
    );
    return rows.map(noticeOf);
  }

  async prune(before: number): Promise<number> {
    return (await this.pool.query('DELETE FROM space_notices WHERE expires_at < $1', [before])).rowCount ?? 0;
  }
}

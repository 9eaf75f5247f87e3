import type { NoticeLevel, SpaceNotice } from './space-notices.ts';

/** A row of space_notices as both engines read it (PostgreSQL's BIGINT comes as a string). */
export interface SpaceNoticeRow {
  site: string;
  space: string;
  topic: string;
  message: string;
  level: string;
  posted_at: number | string;
  expires_at: number | string;
  posted_by: string;
}

export const SPACE_NOTICE_COLUMNS = 'site, space, topic, message, level, posted_at, expires_at, posted_by';

export function noticeOf(row: SpaceNoticeRow): SpaceNotice {
  return {
    site: row.site,
    space: row.space,
    topic: row.topic,
    message: row.message,
    level: row.level as NoticeLevel,
    postedAt: Number(row.posted_at),
    expiresAt: Number(row.expires_at),
    postedBy: row.posted_by,
  };
}

/**
 * Notices on a space: what an automation (a Node-RED flow with a `notices:write` token) or the facility tells the
 * people in a room now, such as "CO2 1240 ppm: please open a window". One current notice per space and topic (a
 * flow posting again replaces its own, another topic stands beside it); each has an end (`expiresAt`), so a
 * notice whose flow stopped or lost its connection goes away by itself. Shown on the member view to whoever
 * has booked the room now, and on the room's lobby tile; nothing is e-mailed or pushed. A notice never names a
 * member: it is shown in the lobby.
 */

export type NoticeLevel = 'info' | 'warning';

export interface SpaceNotice {
  site: string;
  space: string;
  /** Whose notice it is, e.g. `air`: the same topic again replaces it. */
  topic: string;
  message: string;
  level: NoticeLevel;
  postedAt: number;
  expiresAt: number;
  /** `token:<id>` or `member:<id>`: for the audit, never shown. */
  postedBy: string;
}

export interface SpaceNotices {
  /** Puts up the space's notice of this topic, replacing the one before. */
  post(notice: SpaceNotice): Promise<void>;
  /** Takes the space's notice of this topic down; false when there was none. */
  clear(site: string, space: string, topic: string): Promise<boolean>;
  /** The notices up at `now` in these spaces (all spaces of the site when omitted), oldest first. */
  current(site: string, now: number, spaces?: readonly string[]): Promise<SpaceNotice[]>;
  /** Forgets notices that ended before `before`; resolves to how many. */
  prune(before: number): Promise<number>;
}

export const NOTICE_TOPIC_PATTERN = '^[a-z0-9][a-z0-9-]{0,31}$';
export const NOTICE_MAX_MINUTES = 24 * 60;
export const NOTICE_DEFAULT_MINUTES = 60;

/** Whether a notice is up at `now`. Pure. */
export function isCurrent(notice: Pick<SpaceNotice, 'expiresAt'>, now: number): boolean {
  return notice.expiresAt > now;
}

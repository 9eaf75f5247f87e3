import type { Member } from '../access/roles.ts';

/**
 * Signed-in sessions: random tokens handed to the client, kept only as their SHA-256. This is what sign-in
 * and the API's authentication ask of them; `sqlite-sessions.ts` keeps them in the records database.
 */

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
export const TOUCH_EVERY_MS = 60_000;

export interface SessionStore {
  readonly lifetime: SessionLifetime;
  /** A new session for the member; the token is handed out once. Clears dead sessions first. */
  start(memberId: string, now?: number): Promise<{ token: string; expiresAt: number }>;
  /**
   * The member a token belongs to, if the session is alive and the member enabled; ends dead sessions.
   * `touch: false` for checks that are not the member's own use (an open socket asking whether it may stay
   * open), so that they do not keep an idle session alive.
   */
  resolve(token: string, now?: number, options?: { touch?: boolean }): Promise<Member | undefined>;
  /** Sign-out: the token is worthless from now on. False when there was no such session. */
  end(token: string): Promise<boolean>;
  /** Drops sessions past their absolute or idle end (housekeeping; resolve() never honours them anyway). */
  prune(now?: number): Promise<number>;
}

/**
 * PostgreSQL's notification channel for a session ended by sign-out: the payload is its stored id (`tokenId`),
 * so the API processes close the sockets it opened (records/records-news.ts).
 */
export const SESSION_ENDED_CHANNEL = 'wesprint_session_ended';

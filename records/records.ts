import path from 'node:path';
import type { AuditLog } from '../access/audit-log.ts';
import type { GuessThrottleRule } from '../access/guess-throttle.ts';
import type { GuestKeys } from '../access/guest-keys.ts';
import { PostgresAuditLog } from '../access/postgres-audit-log.ts';
import { PostgresGuestKeys } from '../access/postgres-guest-keys.ts';
import { SqliteAuditLog } from '../access/sqlite-audit-log.ts';
import { SqliteGuestKeys } from '../access/sqlite-guest-keys.ts';
import type { AlertStore } from '../alerts/alert-store.ts';
import { PostgresAlertStore } from '../alerts/postgres-alert-store.ts';
import { SqliteAlertStore } from '../alerts/sqlite-alert-store.ts';
import type { MomentClaims } from '../bookings/booking-clock.ts';
import type { BookingSeriesStore, BookingStore } from '../bookings/booking-store.ts';
import type { CalendarTokens } from '../bookings/calendar-feed.ts';
import { PostgresBookingStore } from '../bookings/postgres-booking-store.ts';
import { PostgresCalendarTokens } from '../bookings/postgres-calendar-tokens.ts';
import { PostgresMomentClaims } from '../bookings/postgres-moment-claims.ts';
import { SqliteBookingStore } from '../bookings/sqlite-booking-store.ts';
import { SqliteCalendarTokens } from '../bookings/sqlite-calendar-tokens.ts';
import { SqliteMomentClaims } from '../bookings/sqlite-moment-claims.ts';
import { openRecords, type RecordsDb } from '../database/database.ts';
import {
  inTransaction,
  openPostgresRecords,
  type PostgresOpenOptions,
  type PostgresRecords,
  redactedDatabaseUrl,
} from '../database/postgres.ts';
import type { EventStore } from '../events/event-store.ts';
import { PostgresEventStore } from '../events/postgres-event-store.ts';
import { PostgresSignUpStore } from '../events/postgres-signup-store.ts';
import type { SignUpStore } from '../events/signup-store.ts';
import { SqliteEventStore } from '../events/sqlite-event-store.ts';
import { SqliteSignUpStore } from '../events/sqlite-signup-store.ts';
import type { IntegrationTokens } from '../members/integration-tokens.ts';
import type { LobbyTokens } from '../members/lobby-tokens.ts';
import type { MemberStore } from '../members/member-store.ts';
import { PostgresIntegrationTokens } from '../members/postgres-integration-tokens.ts';
import { PostgresLobbyTokens } from '../members/postgres-lobby-tokens.ts';
import { PostgresMemberStore } from '../members/postgres-member-store.ts';
import { PostgresSessionStore } from '../members/postgres-sessions.ts';
import { PostgresSignInFailures } from '../members/postgres-sign-in-throttle.ts';
import type { SessionLifetime, SessionStore } from '../members/sessions.ts';
import type { SignInFailures } from '../members/sign-in-throttle.ts';
import { SqliteIntegrationTokens } from '../members/sqlite-integration-tokens.ts';
import { SqliteLobbyTokens } from '../members/sqlite-lobby-tokens.ts';
import { SqliteMemberStore } from '../members/sqlite-member-store.ts';
import { SqliteSessionStore } from '../members/sqlite-sessions.ts';
import { SqliteSignInFailures } from '../members/sqlite-sign-in-throttle.ts';
import { PostgresSpaceNotices } from '../notices/postgres-space-notices.ts';
import type { SpaceNotices } from '../notices/space-notices.ts';
import { SqliteSpaceNotices } from '../notices/sqlite-space-notices.ts';
import { type Leader, type LeaderOptions, leadAlone, leadOnPostgres } from './leader.ts';
import { postgresNews, quietNews, type RecordsNews } from './records-news.ts';

/**
 * The records stores of one installation, on whichever engine keeps them: the SQLite file DATA_DIR/wesprint.db
 * (the embedded default) or PostgreSQL (DATABASE_URL). This is the one place that picks the implementations;
 * every caller (the API, the watchers, `wesprint users`) takes the stores from here and sees the interfaces.
 */
export interface Records {
  readonly engine: 'sqlite' | 'postgres';
  /** Where they are, for the start banner: the file, or the URL without its password. */
  readonly where: string;
  readonly members: MemberStore;
  readonly sessions: SessionStore;
  /** Sessions resolving to members through another store (the members as one site sees them). */
  sessionsOver(members: MemberStore): SessionStore;
  readonly lobbyTokens: LobbyTokens;
  readonly integrationTokens: IntegrationTokens;
  readonly failures: SignInFailures;
  /**
   * One house's bookings and their series (a series' dates are bookings: one database keeps both). Space ids
   * may repeat between the houses of a network, so a booking is always of a site: each store reads and writes
   * that site's bookings only, and two bookings overlap only within one (site, space).
   */
  bookingsAt(site: string): BookingStore & BookingSeriesStore;
  /**
   * Gives the bookings and series from before bookings carried their site (migration 0165) the installation's
   * home site, the one site every API served until then; resolves to how many bookings it gave it to.
   */
  settleBookingSites(homeSite: string): Promise<number>;
  readonly calendarTokens: CalendarTokens;
  readonly audit: AuditLog;
  /**
   * One house's alerts: each house has its own watcher, and a device or space id may repeat between houses, so
   * an alert is always of a site and one is open per (site, kind, subject).
   */
  alertsAt(site: string): AlertStore;
  /**
   * Gives the alerts from before alerts carried their site (migration 0175) the installation's home site, the
   * only site whose alerts were watched until then; resolves to how many it gave it to.
   */
  settleAlertSites(homeSite: string): Promise<number>;
  /** Which booking moments were told already (the booking clock, once across processes). */
  readonly momentClaims: MomentClaims;
  /** Public events on the time of bookings and series. */
  readonly events: EventStore;
  /** Visitors' sign-ups for event dates, and what is kept of each date (counts, who came). */
  readonly signUps: SignUpStore;
  /** The notices up on spaces now (an automation's "open a window"). */
  readonly notices: SpaceNotices;
  /** What the other API processes on these records tell this one (and this one them). */
  readonly news: RecordsNews;
  /**
   * Runs the background work in one process of those on these records: at once on the SQLite file (one
   * process), on PostgreSQL in whichever holds the advisory lock named after `options.name` (records/leader.ts).
   */
  lead(options: LeaderOptions): Promise<Leader>;
  /** Links that open one door for a guest during one booking. */
  readonly guestKeys: GuestKeys;
  /** Closes the file or the pool; the stores are not used afterwards (stop the leader and news first). */
  close(): Promise<void>;
}

export interface RecordsOptions {
  sessionLifetime?: SessionLifetime;
  throttle?: GuessThrottleRule;
  /**
   * The installation's home site (its only one with SITE_FILE, the first of SITES_DIR): opening the records
   * gives it to the bookings and alerts from before they carried their site (`settleBookingSites`,
   * `settleAlertSites`).
   */
  homeSite?: string;
  /** Where the news connection says it is lost or back. */
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** Where the records are: DATABASE_URL when set, else the SQLite file in DATA_DIR. */
export interface RecordsLocation {
  dataDir: string;
  databaseUrl?: string | undefined;
}

/** The stores on an open SQLite records file (closing them closes the file). */
export function sqliteRecords(db: RecordsDb, options: RecordsOptions = {}): Records {
  const members = new SqliteMemberStore(db);
  return {
    engine: 'sqlite',
    where: db.name,
    members,
    sessions: new SqliteSessionStore(db, members, options.sessionLifetime),
    sessionsOver: (seen) => new SqliteSessionStore(db, seen, options.sessionLifetime),
    lobbyTokens: new SqliteLobbyTokens(db),
    integrationTokens: new SqliteIntegrationTokens(db),
    failures: new SqliteSignInFailures(db, options.throttle),
    bookingsAt: (site) => new SqliteBookingStore(db, site),
    settleBookingSites: async (homeSite) =>
      db.transaction(() => {
        db.prepare('UPDATE booking_series SET site = ? WHERE site IS NULL').run(homeSite);
        return db.prepare('UPDATE bookings SET site = ? WHERE site IS NULL').run(homeSite).changes;
      })(),
    calendarTokens: new SqliteCalendarTokens(db),
    audit: new SqliteAuditLog(db),
    alertsAt: (site) => new SqliteAlertStore(db, site),
    settleAlertSites: async (homeSite) =>
      db.prepare('UPDATE alerts SET site = ? WHERE site IS NULL').run(homeSite).changes,
    momentClaims: new SqliteMomentClaims(db),
    events: new SqliteEventStore(db),
    signUps: new SqliteSignUpStore(db),
    notices: new SqliteSpaceNotices(db),
    news: quietNews(),
    lead: leadAlone,
    guestKeys: new SqliteGuestKeys(db),
    close: async () => {
      if (db.open) db.close();
    },
  };
}

/** The stores on an open PostgreSQL pool (closing them ends the pool). */
export function postgresRecords(pool: PostgresRecords, where: string, options: RecordsOptions = {}): Records {
  const members = new PostgresMemberStore(pool);
  let ended: Promise<void> | undefined;
  let news: RecordsNews | undefined;
  return {
    engine: 'postgres',
    where,
    members,
    sessions: new PostgresSessionStore(pool, members, options.sessionLifetime),
    sessionsOver: (seen) => new PostgresSessionStore(pool, seen, options.sessionLifetime),
    lobbyTokens: new PostgresLobbyTokens(pool),
    integrationTokens: new PostgresIntegrationTokens(pool),
    failures: new PostgresSignInFailures(pool, options.throttle),
    bookingsAt: (site) => new PostgresBookingStore(pool, site),
    settleBookingSites: async (homeSite) =>
      inTransaction(pool, async (client) => {
        await client.query('UPDATE booking_series SET site = $1 WHERE site IS NULL', [homeSite]);
        return (
          (await client.query('UPDATE bookings SET site = $1 WHERE site IS NULL', [homeSite])).rowCount ?? 0
        );
      }),
    calendarTokens: new PostgresCalendarTokens(pool),
    audit: new PostgresAuditLog(pool),
    alertsAt: (site) => new PostgresAlertStore(pool, site),
    settleAlertSites: async (homeSite) =>
      (await pool.query('UPDATE alerts SET site = $1 WHERE site IS NULL', [homeSite])).rowCount ?? 0,
    momentClaims: new PostgresMomentClaims(pool),
    events: new PostgresEventStore(pool),
    signUps: new PostgresSignUpStore(pool),
    notices: new PostgresSpaceNotices(pool),
    // Listening takes a connection of its own: only for those who ask (the API processes).
    get news() {
      news ??= postgresNews(pool, options.logger);
      return news;
    },
    lead: async (leader) => leadOnPostgres(pool, leader),
    guestKeys: new PostgresGuestKeys(pool),
    close: () => {
      ended ??= (async () => {
        await news?.close();
        await pool.end();
      })();
      return ended;
    },
  };
}

/**
 * Opens the records where the settings put them, migrated. PostgreSQL that is not up yet is waited for (see
 * openPostgresRecords); a database that does not exist is a PostgresRecordsError.
 */
export async function openRecordStores(
  location: RecordsLocation,
  options: RecordsOptions & Pick<PostgresOpenOptions, 'signal'> = {},
): Promise<Records> {
  if (location.databaseUrl) {
    const pool = await openPostgresRecords(location.databaseUrl, {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    return settled(postgresRecords(pool, redactedDatabaseUrl(location.databaseUrl), options), options);
  }
  return settled(sqliteRecords(openRecords(path.join(location.dataDir, 'wesprint.db')), options), options);
}

/** The records, their bookings and alerts from before the network given the home site when the caller knows it. */
async function settled(records: Records, options: RecordsOptions): Promise<Records> {
  if (options.homeSite === undefined) return records;
  try {
    await records.settleBookingSites(options.homeSite);
    await records.settleAlertSites(options.homeSite);
    return records;
  } catch (err) {
    await records.close();
    throw err;
  }
}

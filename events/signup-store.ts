import { createHash, randomBytes } from 'node:crypto';

/**
 * Visitors' sign-ups for an event's dates, and what stays of each date (the counts, the organiser's count of
 * who came), whatever database keeps them (`sqlite-signup-store.ts`, `postgres-signup-store.ts`). A date is a
 * booking of the event's booking or series (its id is the booking's). Where a sign-up goes and who moves up
 * is decided by events/signup-rules.ts inside each engine's transaction.
 */

export type SignUpStatus = 'confirmed' | 'waiting' | 'cancelled';

export interface SignUp {
  id: string;
  eventId: string;
  dateId: string;
  places: number;
  email: string | null;
  status: SignUpStatus;
  createdAt: number;
}

export interface NewSignUp {
  eventId: string;
  dateId: string;
  places: number;
  email: string | null;
  /** The event's capacity (null: no limit kept). */
  capacity: number | null;
}

export type SignUpResult =
  | { ok: true; signUp: SignUp; cancelToken: string }
  | { ok: false; reason: 'too_many' };

export interface CancelResult {
  cancelled: SignUp;
  /** The waiting sign-ups that got a place because of it, in order. */
  movedUp: SignUp[];
}

/** What is kept of one date of an event; counts in places. */
export interface DateCounts {
  eventId: string;
  dateId: string;
  spaceId: string;
  start: number;
  end: number;
  capacity: number | null;
  confirmed: number;
  waiting: number;
  /** Sign-ups made (cancelled ones included). */
  signUps: number;
  cancelled: number;
  /** How many came, as the organiser or staff entered it; null: not entered. */
  attended: number | null;
  attendedBy: string | null;
  /** Whether the visitors' data of this date has been deleted. */
  purged: boolean;
}

export interface SignUpStore {
  /** Places on the date or a place on its waiting list, in one transaction with the date's counts. */
  signUp(input: NewSignUp, now: number): Promise<SignUpResult>;
  /** The sign-up a cancel token belongs to (not after the purge). */
  byToken(token: string): Promise<SignUp | undefined>;
  /**
   * Cancels the sign-up of this token and moves the waiting list up (`capacity`: the event's); undefined when
   * there is none (unknown, purged, or cancelled before).
   */
  cancel(token: string, capacity: number | null, now: number): Promise<CancelResult | undefined>;
  /** The counts of every date of events with sign-ups or a count, by the date's start in [start, end). */
  counts(range: { start: number; end: number }): Promise<DateCounts[]>;
  /** The counts of one date; undefined while nobody signed up and no count was entered. */
  countsOf(eventId: string, dateId: string): Promise<DateCounts | undefined>;
  /** The organiser's count of who came (entered again: replaced). */
  recordAttendance(eventId: string, dateId: string, attended: number, by: string, now: number): Promise<void>;
  /**
   * Deletes the visitors' data (addresses, tokens: the sign-up rows) of every date over by `now`, of a
   * cancelled booking or a cancelled event; the counts stay. Returns how many sign-ups went.
   */
  purgeEnded(now: number): Promise<number>;
}

/** A visitor's cancel token: only its hash is kept. */
export function newCancelToken(): { token: string; hash: string } {
  const token = randomBytes(24).toString('base64url');
  return { token, hash: cancelTokenHash(token) };
}

export function cancelTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** How often the purge runs (hourly: a date's visitors are gone within the hour after it ends). */
export const SIGNUP_PURGE_INTERVAL_MS = 3_600_000;

/**
 * Runs the purge now and then every `intervalMs` on `now`'s clock; resolves, once the first run is over, to the
 * function that stops it. A failed run is logged and tried again: it never takes the API down.
 */
export async function scheduleSignUpPurge(
  store: Pick<SignUpStore, 'purgeEnded'>,
  logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void },
  intervalMs: number = SIGNUP_PURGE_INTERVAL_MS,
  now: () => number = Date.now,
): Promise<() => Promise<void>> {
  let running: Promise<void> = Promise.resolve();
  const run = async () => {
    try {
      const removed = await store.purgeEnded(now());
      if (removed > 0) logger?.info({ removed }, 'event sign-ups: visitors of past dates deleted');
    } catch (err) {
      logger?.warn({ err: (err as Error).message }, 'event sign-ups: purge failed');
    }
  };
  running = run();
  await running;
  const timer = setInterval(() => {
    running = run();
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

import {
  type FailureCount,
  type GuessThrottleRule,
  MEMBER_SIGN_IN_THROTTLE,
} from '../access/guess-throttle.ts';
import type { RecordsDb } from '../database/database.ts';
import {
  countAttempt,
  drainedAfterMs,
  PRUNE_EVERY_MS,
  type SignInFailureKey,
  type SignInFailureRow,
  takenBack,
  toGuessCounts,
} from './sign-in-failure-rows.ts';
import type { SignInFailures, SignInTicket, SignInWait } from './sign-in-throttle.ts';

/**
 * The members' failed sign-ins in the records database (table sign_in_failures), so every API process on the
 * file shares them. Counting is one IMMEDIATE transaction, which takes the write lock before reading.
 */
export class SqliteSignInFailures implements SignInFailures {
  readonly #records: RecordsDb;
  readonly #attempt: (email: string, address: string, now: number) => SignInWait | SignInTicket;
  readonly #signedIn: (ticket: SignInTicket) => void;

  constructor(
    records: RecordsDb,
    readonly rule: GuessThrottleRule = MEMBER_SIGN_IN_THROTTLE,
  ) {
    this.#records = records;
    const select = records.prepare(
      `SELECT scope, level, last_failure_at, signed_in_at FROM sign_in_failures
       WHERE (scope = 'account_address' AND email = @email AND address = @address)
          OR (scope = 'address' AND email = '' AND address = @address)
          OR (scope = 'account' AND email = @email AND address = '')`,
    );
    const upsert = records.prepare(
      `INSERT INTO sign_in_failures (scope, email, address, level, last_failure_at)
       VALUES (@scope, @email, @address, @level, @at)
       ON CONFLICT (scope, email, address) DO UPDATE SET level = excluded.level, last_failure_at = excluded.last_failure_at`,
    );
    const remove = records.prepare(
      'DELETE FROM sign_in_failures WHERE scope = @scope AND email = @email AND address = @address',
    );
    const proven = records.prepare(
      `INSERT INTO sign_in_failures (scope, email, address, level, last_failure_at, signed_in_at)
       VALUES ('account_address', @email, @address, 0, NULL, @at)
       ON CONFLICT (scope, email, address) DO UPDATE SET level = 0, last_failure_at = NULL, signed_in_at = excluded.signed_in_at`,
    );
    const forget = records.prepare(
      `DELETE FROM sign_in_failures
       WHERE (last_failure_at IS NULL OR last_failure_at < @drained) AND (signed_in_at IS NULL OR signed_in_at < @unproven)`,
    );
    let lastForgotten = Number.NEGATIVE_INFINITY;
    const drainMs = drainedAfterMs(rule);
    const write = (key: SignInFailureKey, count: FailureCount | undefined) => {
      if (count) upsert.run({ ...key, level: count.level, at: count.lastFailureAt });
      else remove.run(key);
    };
    const read = (email: string, address: string) =>
      toGuessCounts(select.all({ email, address }) as SignInFailureRow[]);

    // IMMEDIATE: the write lock is taken before reading, so two processes cannot both read the same count.
    this.#attempt = (email, address, now) =>
      records
        .transaction((): SignInWait | SignInTicket => {
          if (!(Math.abs(now - lastForgotten) < PRUNE_EVERY_MS)) {
            forget.run({ drained: now - drainMs, unproven: now - rule.provenForMs });
            lastForgotten = now;
          }
          const counted = countAttempt(read(email, address), email, address, now, rule);
          if (!('ticket' in counted)) return counted;
          for (const [key, count] of counted.rows) write(key, count);
          return counted.ticket;
        })
        .immediate();

    this.#signedIn = (ticket) =>
      records
        .transaction(() => {
          const { email, address, at } = ticket;
          const counts = read(email, address);
          proven.run({ email, address, at });
          for (const [key, count] of takenBack(counts, ticket, rule)) write(key, count);
        })
        .immediate();
  }

  /**
   * Whether an attempt of `email` from `address` at `now` must wait (then it is not counted: no password
   * is tried); if not, it is counted as failed in every scope until `signedIn` takes it back.
   */
  async attempt(email: string, address: string, now: number): Promise<SignInWait | SignInTicket> {
    return this.#attempt(email, address, now);
  }

  /** The attempt's password was right: the pair's count is cleared and proven, the others get it back. */
  async signedIn(ticket: SignInTicket): Promise<void> {
    this.#signedIn(ticket);
  }

  /** Rows kept, for tests and the operator: how much is being counted. */
  async size(): Promise<number> {
    return this.#records.prepare('SELECT count(*) FROM sign_in_failures').pluck().get() as number;
  }
}

import type pg from 'pg';
import {
  type FailureCount,
  type GuessCounts,
  type GuessThrottleRule,
  MEMBER_SIGN_IN_THROTTLE,
} from '../access/guess-throttle.ts';
import { inTransaction, type PostgresRecords } from '../database/postgres.ts';
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
 * Counting an attempt reads the counts and writes them back; two API processes must never both read the
 * same count. SQLite takes its one write lock first (IMMEDIATE); here every counting transaction takes this
 * table lock first, which conflicts with itself (and lets plain reads through), so they run one after another.
 */
const SERIALISE = 'LOCK TABLE sign_in_failures IN SHARE ROW EXCLUSIVE MODE';

/** The members' failed sign-ins in PostgreSQL (table sign_in_failures), shared by every API process. */
export class PostgresSignInFailures implements SignInFailures {
  readonly #pool: PostgresRecords;
  readonly #drainMs: number;
  #lastForgotten = Number.NEGATIVE_INFINITY;

  constructor(
    pool: PostgresRecords,
    readonly rule: GuessThrottleRule = MEMBER_SIGN_IN_THROTTLE,
  ) {
    this.#pool = pool;
    this.#drainMs = drainedAfterMs(rule);
  }

  async attempt(email: string, address: string, now: number): Promise<SignInWait | SignInTicket> {
    return inTransaction(this.#pool, async (client): Promise<SignInWait | SignInTicket> => {
      await client.query(SERIALISE);
      if (!(Math.abs(now - this.#lastForgotten) < PRUNE_EVERY_MS)) {
        await client.query(
          `DELETE FROM sign_in_failures
           WHERE (last_failure_at IS NULL OR last_failure_at < $1) AND (signed_in_at IS NULL OR signed_in_at < $2)`,
          [now - this.#drainMs, now - this.rule.provenForMs],
        );
        this.#lastForgotten = now;
      }
      const counted = countAttempt(await read(client, email, address), email, address, now, this.rule);
      if (!('ticket' in counted)) return counted;
      for (const [key, count] of counted.rows) await write(client, key, count);
      return counted.ticket;
    });
  }

  async signedIn(ticket: SignInTicket): Promise<void> {
    await inTransaction(this.#pool, async (client) => {
      await client.query(SERIALISE);
      const { email, address, at } = ticket;
      const counts = await read(client, email, address);
      await client.query(
        `INSERT INTO sign_in_failures (scope, email, address, level, last_failure_at, signed_in_at)
         VALUES ('account_address', $1, $2, 0, NULL, $3)
         ON CONFLICT (scope, email, address) DO UPDATE
           SET level = 0, last_failure_at = NULL, signed_in_at = excluded.signed_in_at`,
        [email, address, at],
      );
      for (const [key, count] of takenBack(counts, ticket, this.rule)) await write(client, key, count);
    });
  }

  async size(): Promise<number> {
    return (
      (await this.#pool.query<{ n: number }>('SELECT count(*) AS n FROM sign_in_failures')).rows[0]?.n ?? 0
    );
  }
}

async function write(
  client: pg.PoolClient,
  key: SignInFailureKey,
  count: FailureCount | undefined,
): Promise<void> {
  if (count)
    await client.query(
      `INSERT INTO sign_in_failures (scope, email, address, level, last_failure_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (scope, email, address) DO UPDATE
         SET level = excluded.level, last_failure_at = excluded.last_failure_at`,
      [key.scope, key.email, key.address, count.level, count.lastFailureAt],
    );
  else
    await client.query('DELETE FROM sign_in_failures WHERE scope = $1 AND email = $2 AND address = $3', [
      key.scope,
      key.email,
      key.address,
    ]);
}

async function read(client: pg.PoolClient, email: string, address: string): Promise<GuessCounts> {
  const { rows } = await client.query<SignInFailureRow>(
    `SELECT scope, level, last_failure_at, signed_in_at FROM sign_in_failures
     WHERE (scope = 'account_address' AND email = $1 AND address = $2)
        OR (scope = 'address' AND email = '' AND address = $2)
        OR (scope = 'account' AND email = $1 AND address = '')`,
    [email, address],
  );
  return toGuessCounts(rows);
}

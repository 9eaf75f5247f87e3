import type pg from 'pg';
import {
  countFailure,
  type FailureCount,
  forgiveFailure,
  type GuessCounts,
  type GuessThrottleRule,
  guessWait,
  levelCap,
  MEMBER_SIGN_IN_THROTTLE,
  type ThrottleScope,
} from '../access/guess-throttle.ts';
import { inTransaction, type PostgresRecords } from '../database/postgres.ts';
import {
  type SignInFailures,
  type SignInThrottleScope,
  type SignInTicket,
  type SignInWait,
  STORED_SCOPE,
} from './sign-in-throttle.ts';

interface Row {
  scope: SignInThrottleScope;
  level: number;
  last_failure_at: number | null;
  signed_in_at: number | null;
}

const PRUNE_EVERY_MS = 60_000;

/**
 * Counting an attempt reads the counts and writes them back; two API processes must never both read the
 * same count. SQLite takes its one write lock first (IMMEDIATE); here every counting transaction takes this
 * table lock first, which conflicts with itself (and lets plain reads through), so they run one after another.
 */
const SERIALISE = 'LOCK TABLE sign_in_failures IN SHARE ROW EXCLUSIVE MODE';

type Key = { scope: SignInThrottleScope; email: string; address: string };

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
    this.#drainMs = Math.max(
      ...(['pair', 'address', 'name'] as const).map((s) => levelCap(rule[s]) * rule[s].leakMs),
    );
  }

  async attempt(email: string, address: string, now: number): Promise<SignInWait | SignInTicket> {
    return inTransaction(this.#pool, async (client): Promise<SignInWait | SignInTicket> => {
      await client.query(SERIALISE);
      // Forgetting scans the table: once a minute is enough, a flood of guesses should not pay it each time.
      if (!(Math.abs(now - this.#lastForgotten) < PRUNE_EVERY_MS)) {
        await client.query(
          `DELETE FROM sign_in_failures
           WHERE (last_failure_at IS NULL OR last_failure_at < $1) AND (signed_in_at IS NULL OR signed_in_at < $2)`,
          [now - this.#drainMs, now - this.rule.provenForMs],
        );
        this.#lastForgotten = now;
      }
      const counts = await read(client, email, address);
      const wait = guessWait(counts, now, this.rule);
      if (wait) return { until: wait.until, scope: STORED_SCOPE[wait.scope] };
      const counted = {
        pair: countFailure(counts.pair, now, this.rule.pair),
        address: countFailure(counts.address, now, this.rule.address),
        name: countFailure(counts.name, now, this.rule.name),
      };
      for (const scope of ['pair', 'address', 'name'] as const)
        await write(client, keyOf(scope, email, address), counted[scope]);
      return {
        email,
        address,
        at: now,
        before: { address: counts.address, name: counts.name },
        counted: { address: counted.address, name: counted.name },
      };
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
      for (const scope of ['address', 'name'] as const) {
        const count = counts[scope];
        const counted = ticket.counted[scope];
        // Untouched since this attempt counted itself: as if it never had; else one failure fewer.
        const untouched = count?.lastFailureAt === counted.lastFailureAt && count.level === counted.level;
        await write(
          client,
          keyOf(scope, email, address),
          untouched ? ticket.before[scope] : forgiveFailure(count, at, this.rule[scope]),
        );
      }
    });
  }

  async size(): Promise<number> {
    return (
      (await this.#pool.query<{ n: number }>('SELECT count(*) AS n FROM sign_in_failures')).rows[0]?.n ?? 0
    );
  }
}

function keyOf(scope: ThrottleScope, email: string, address: string): Key {
  return {
    scope: STORED_SCOPE[scope],
    email: scope === 'address' ? '' : email,
    address: scope === 'name' ? '' : address,
  };
}

async function write(client: pg.PoolClient, key: Key, count: FailureCount | undefined): Promise<void> {
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
  const { rows } = await client.query<Row>(
    `SELECT scope, level, last_failure_at, signed_in_at FROM sign_in_failures
     WHERE (scope = 'account_address' AND email = $1 AND address = $2)
        OR (scope = 'address' AND email = '' AND address = $2)
        OR (scope = 'account' AND email = $1 AND address = '')`,
    [email, address],
  );
  const counts: GuessCounts = {};
  for (const row of rows) {
    const scope = (Object.keys(STORED_SCOPE) as ThrottleScope[]).find((s) => STORED_SCOPE[s] === row.scope);
    if (!scope) continue;
    if (row.last_failure_at !== null)
      counts[scope] = { level: row.level, lastFailureAt: row.last_failure_at };
    if (scope === 'pair') counts.provenAt = row.signed_in_at;
  }
  return counts;
}

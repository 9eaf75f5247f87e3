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
import type { RecordsDb } from '../database/database.ts';
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
    const drainMs = Math.max(
      ...(['pair', 'address', 'name'] as const).map((s) => levelCap(rule[s]) * rule[s].leakMs),
    );
    const keyOf = (scope: ThrottleScope, email: string, address: string) => ({
      scope: STORED_SCOPE[scope],
      email: scope === 'address' ? '' : email,
      address: scope === 'name' ? '' : address,
    });
    const write = (key: ReturnType<typeof keyOf>, count: FailureCount | undefined) => {
      if (count) upsert.run({ ...key, level: count.level, at: count.lastFailureAt });
      else remove.run(key);
    };
    const read = (email: string, address: string): GuessCounts => {
      const rows = select.all({ email, address }) as Row[];
      const counts: GuessCounts = {};
      for (const row of rows) {
        const scope = (Object.keys(STORED_SCOPE) as ThrottleScope[]).find(
          (s) => STORED_SCOPE[s] === row.scope,
        );
        if (!scope) continue;
        if (row.last_failure_at !== null)
          counts[scope] = { level: row.level, lastFailureAt: row.last_failure_at };
        if (scope === 'pair') counts.provenAt = row.signed_in_at;
      }
      return counts;
    };

    // IMMEDIATE: the write lock is taken before reading, so two processes cannot both read the same count.
    this.#attempt = (email, address, now) =>
      records
        .transaction((): SignInWait | SignInTicket => {
          // Forgetting scans the table: once a minute is enough, a flood of guesses should not pay it each time.
          if (!(Math.abs(now - lastForgotten) < PRUNE_EVERY_MS)) {
            forget.run({ drained: now - drainMs, unproven: now - rule.provenForMs });
            lastForgotten = now;
          }
          const counts = read(email, address);
          const wait = guessWait(counts, now, rule);
          if (wait) return { until: wait.until, scope: STORED_SCOPE[wait.scope] };
          const counted = {
            pair: countFailure(counts.pair, now, rule.pair),
            address: countFailure(counts.address, now, rule.address),
            name: countFailure(counts.name, now, rule.name),
          };
          for (const scope of ['pair', 'address', 'name'] as const)
            write(keyOf(scope, email, address), counted[scope]);
          return {
            email,
            address,
            at: now,
            before: { address: counts.address, name: counts.name },
            counted: { address: counted.address, name: counted.name },
          };
        })
        .immediate();

    this.#signedIn = (ticket) =>
      records
        .transaction(() => {
          const { email, address, at } = ticket;
          const counts = read(email, address);
          proven.run({ email, address, at });
          for (const scope of ['address', 'name'] as const) {
            const count = counts[scope];
            const counted = ticket.counted[scope];
            // Untouched since this attempt counted itself: as if it never had; else one failure fewer.
            const untouched = count?.lastFailureAt === counted.lastFailureAt && count.level === counted.level;
            write(
              keyOf(scope, email, address),
              untouched ? ticket.before[scope] : forgiveFailure(count, at, rule[scope]),
            );
          }
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

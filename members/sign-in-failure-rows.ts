import {
  countFailure,
  type FailureCount,
  forgiveFailure,
  type GuessCounts,
  type GuessThrottleRule,
  guessWait,
  levelCap,
  type ThrottleScope,
} from '../access/guess-throttle.ts';
import {
  type SignInThrottleScope,
  type SignInTicket,
  type SignInWait,
  STORED_SCOPE,
} from './sign-in-throttle.ts';

/** A row of sign_in_failures as both engines keep it (times epoch ms). */
export interface SignInFailureRow {
  scope: SignInThrottleScope;
  level: number;
  last_failure_at: number | null;
  signed_in_at: number | null;
}

/** The row one scope of an attempt counts in: the address scope has no e-mail, the account scope no address. */
export interface SignInFailureKey {
  scope: SignInThrottleScope;
  email: string;
  address: string;
}

/** Forgetting drained rows scans the table: once a minute is enough, a flood of guesses should not pay it each time. */
export const PRUNE_EVERY_MS = 60_000;

/** The three scopes an attempt is counted in. */
export const COUNTED_SCOPES = ['pair', 'address', 'name'] as const satisfies readonly ThrottleScope[];

export function failureKey(scope: ThrottleScope, email: string, address: string): SignInFailureKey {
  return {
    scope: STORED_SCOPE[scope],
    email: scope === 'address' ? '' : email,
    address: scope === 'name' ? '' : address,
  };
}

/** After this long without a failure every scope's count has leaked away: the row may be forgotten. */
export function drainedAfterMs(rule: GuessThrottleRule): number {
  return Math.max(...COUNTED_SCOPES.map((s) => levelCap(rule[s]) * rule[s].leakMs));
}

/** The rows of one e-mail and address (pair, address, account) as the waits rule reads them. */
export function toGuessCounts(rows: readonly SignInFailureRow[]): GuessCounts {
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

/**
 * An attempt against the counts read: a wait (nothing is written), or the ticket with the count each scope's
 * row is to hold now (every scope counted as failed until the password proves right).
 */
export function countAttempt(
  counts: GuessCounts,
  email: string,
  address: string,
  now: number,
  rule: GuessThrottleRule,
): SignInWait | { ticket: SignInTicket; rows: [SignInFailureKey, FailureCount][] } {
  const wait = guessWait(counts, now, rule);
  if (wait) return { until: wait.until, scope: STORED_SCOPE[wait.scope] };
  const counted = {
    pair: countFailure(counts.pair, now, rule.pair),
    address: countFailure(counts.address, now, rule.address),
    name: countFailure(counts.name, now, rule.name),
  };
  return {
    ticket: {
      email,
      address,
      at: now,
      before: { address: counts.address, name: counts.name },
      counted: { address: counted.address, name: counted.name },
    },
    rows: COUNTED_SCOPES.map((scope) => [failureKey(scope, email, address), counted[scope]]),
  };
}

/**
 * The password was right: what the address and account rows hold now (undefined: no row). Untouched since
 * the attempt counted itself, as if it never had; else one failure fewer. (The pair's row is cleared and
 * proven by the store.)
 */
export function takenBack(
  counts: GuessCounts,
  ticket: SignInTicket,
  rule: GuessThrottleRule,
): [SignInFailureKey, FailureCount | undefined][] {
  return (['address', 'name'] as const).map((scope) => {
    const count = counts[scope];
    const counted = ticket.counted[scope];
    const untouched = count?.lastFailureAt === counted.lastFailureAt && count.level === counted.level;
    return [
      failureKey(scope, ticket.email, ticket.address),
      untouched ? ticket.before[scope] : forgiveFailure(count, ticket.at, rule[scope]),
    ];
  });
}

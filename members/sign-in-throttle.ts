import type { FailureCount, GuessThrottleRule, ThrottleScope } from '../access/guess-throttle.ts';

/** The scopes of access/guess-throttle.ts in the members' words, as stored (migration 0040). */
export const STORED_SCOPE = {
  pair: 'account_address',
  address: 'address',
  name: 'account',
} as const satisfies Record<ThrottleScope, string>;

export type SignInThrottleScope = (typeof STORED_SCOPE)[ThrottleScope];

export interface SignInWait {
  until: number;
  scope: SignInThrottleScope;
}

/** An attempt let through to its password check, counted as failed until `signedIn` takes it back. */
export interface SignInTicket {
  email: string;
  address: string;
  at: number;
  /** The address and account counts before this attempt, to put back when its password is right ... */
  before: { address: FailureCount | undefined; name: FailureCount | undefined };
  /** ... if they are still what this attempt made them. */
  counted: { address: FailureCount; name: FailureCount };
}

/**
 * The members' failed sign-ins, shared by every API process. Each attempt is counted as failed before its
 * password is checked and taken back when it is right: parallel guesses cannot all slip through while the
 * first ones are still being hashed. `sqlite-sign-in-throttle.ts` keeps them in the records database.
 */
export interface SignInFailures {
  readonly rule: GuessThrottleRule;
  /**
   * Whether an attempt of `email` from `address` at `now` must wait (then it is not counted: no password
   * is tried); if not, it is counted as failed in every scope until `signedIn` takes it back. Reading the
   * counts and counting the attempt are one step: two attempts never both read the same count.
   */
  attempt(email: string, address: string, now: number): Promise<SignInWait | SignInTicket>;
  /** The attempt's password was right: the pair's count is cleared and proven, the others get it back. */
  signedIn(ticket: SignInTicket): Promise<void>;
  /** Rows kept, for tests and the operator: how much is being counted. */
  size(): Promise<number>;
}

/**
 * Slowing down password guessing without handing an attacker a way to lock the owner out (OWASP
 * Authentication Cheat Sheet, "Account Lockout"; the same shape as Django-axes locking a combination of
 * user name and client address, and Keycloak's brute-force detection with its growing wait). Used by the
 * API's sign-in (counts in the records database) and by the broker's MQTT sign-in (counts in its memory).
 *
 * Failed sign-ins are counted in three scopes:
 *  - `pair`: one name (e-mail, MQTT user name) from one client address. Always judged: the owner who
 *    mistypes at home waits as long as an attacker at home would.
 *  - `address`: every name tried from one client address (one attacker trying many accounts).
 *  - `name`: one name from every address (many addresses guessing one account).
 * The address and name waits do not apply to a name at an address it signed in from successfully within
 * `provenForMs`: an attacker elsewhere, or guessing other accounts from the same shared address, cannot
 * keep the owner out of their own account from their own address.
 *
 * Each count is a leaky bucket: a failure adds one, and the count drains by one every `leakMs`. Up to
 * `free` failures cost nothing; each one beyond doubles the wait from `firstWaitMs` up to `maxWaitMs`,
 * counted from the failure that set it. In the long run a guesser gets one guess per longest wait or per
 * leak, whichever is rarer, however the attempts are spread; an owner's few typing errors are forgotten
 * within hours, and nothing locks for good.
 */

import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export type ThrottleScope = 'pair' | 'address' | 'name';

export interface ThrottleStep {
  /** Failures that cost no wait. */
  free: number;
  /** The wait after the first failure beyond `free`; each further failure doubles it ... */
  firstWaitMs: number;
  /** ... up to this. */
  maxWaitMs: number;
  /** The count drains by one failure per this long. */
  leakMs: number;
}

export interface GuessThrottleRule {
  pair: ThrottleStep;
  address: ThrottleStep;
  name: ThrottleStep;
  /** A successful sign-in of a name from an address exempts that pair from the address and name waits this long. */
  provenForMs: number;
}

/** One scope's count: its level right after its last failure. */
export interface FailureCount {
  level: number;
  lastFailureAt: number;
}

export interface GuessCounts {
  pair?: FailureCount | undefined;
  address?: FailureCount | undefined;
  name?: FailureCount | undefined;
  /** When this name last signed in successfully from this address, if ever. */
  provenAt?: number | null | undefined;
}

export interface GuessWait {
  /** Epoch ms from which an attempt is judged again. */
  until: number;
  /** The scope that imposes the (latest) wait. */
  scope: ThrottleScope;
}

const MINUTE = 60_000;

/**
 * The members' sign-in (API): an owner gets 3 free typing errors per address, then 5 s, 10 s, ... up to
 * 15 min, forgotten at one an hour; one address gets 20 across all accounts (a coworking space's shared
 * address), one account 10 from addresses it never signed in from.
 */
export const MEMBER_SIGN_IN_THROTTLE: GuessThrottleRule = {
  pair: { free: 3, firstWaitMs: 5_000, maxWaitMs: 15 * MINUTE, leakMs: 60 * MINUTE },
  address: { free: 20, firstWaitMs: 5_000, maxWaitMs: 15 * MINUTE, leakMs: 5 * MINUTE },
  name: { free: 10, firstWaitMs: 5_000, maxWaitMs: 15 * MINUTE, leakMs: 10 * MINUTE },
  provenForMs: 30 * 24 * 60 * MINUTE,
};

/**
 * Devices and services on MQTT: machines retry on their own, so the waits are short and drain fast, but
 * a misconfigured device still settles at a few attempts a minute and a guesser at six a minute per
 * address (measured before: 2,000 guesses in 1.4 s from one address).
 */
export const MQTT_SIGN_IN_THROTTLE: GuessThrottleRule = {
  pair: { free: 5, firstWaitMs: 1_000, maxWaitMs: 5 * MINUTE, leakMs: MINUTE },
  address: { free: 10, firstWaitMs: 1_000, maxWaitMs: 5 * MINUTE, leakMs: 10_000 },
  name: { free: 10, firstWaitMs: 1_000, maxWaitMs: 5 * MINUTE, leakMs: 10_000 },
  provenForMs: 30 * 24 * 60 * MINUTE,
};

/**
 * The highest a count climbs: a few failures past the one that reaches the longest wait. Keeps the time a
 * count takes to drain bounded (and so how long it must be kept), whatever the flood.
 */
export function levelCap(step: ThrottleStep): number {
  const doublings = Math.ceil(Math.log2(Math.max(1, step.maxWaitMs / step.firstWaitMs)));
  return step.free + doublings + 2;
}

/** The count's level at `now`, drained since its last failure. */
export function levelAt(count: FailureCount | undefined, now: number, step: ThrottleStep): number {
  if (!count) return 0;
  const drained = Math.max(0, now - count.lastFailureAt) / step.leakMs;
  return Math.max(0, count.level - drained);
}

/** The count after one more failure at `now`. */
export function countFailure(count: FailureCount | undefined, now: number, step: ThrottleStep): FailureCount {
  return { level: Math.min(levelCap(step), levelAt(count, now, step) + 1), lastFailureAt: now };
}

/**
 * The count with one failure taken back (an attempt counted before its password was checked turned out
 * right), or undefined when nothing is left at `now`.
 */
export function forgiveFailure(
  count: FailureCount | undefined,
  now: number,
  step: ThrottleStep,
): FailureCount | undefined {
  if (!count || levelAt(count, now, step) <= 1) return undefined;
  return { level: count.level - 1, lastFailureAt: count.lastFailureAt };
}

/** How long a level makes the next attempt wait after the failure that reached it. */
export function waitFor(level: number, step: ThrottleStep): number {
  const beyond = Math.round(level) - step.free;
  if (beyond <= 0) return 0;
  return Math.min(step.maxWaitMs, step.firstWaitMs * 2 ** (beyond - 1));
}

/** Until when one scope's count holds attempts back, or null. */
export function waitUntil(count: FailureCount | undefined, now: number, step: ThrottleStep): number | null {
  const wait = count ? waitFor(count.level, step) : 0;
  if (!count || wait === 0) return null;
  const until = count.lastFailureAt + wait;
  return until > now ? until : null;
}

/** Whether the name signed in successfully from this address recently enough to be exempt. */
export function isProven(provenAt: number | null | undefined, now: number, rule: GuessThrottleRule): boolean {
  return provenAt != null && provenAt <= now && now - provenAt <= rule.provenForMs;
}

/**
 * Whether an attempt at `now` must wait, and until when and because of which scope (the latest wait of
 * the scopes that apply); null when it may be checked.
 */
export function guessWait(counts: GuessCounts, now: number, rule: GuessThrottleRule): GuessWait | null {
  const scopes: ThrottleScope[] = isProven(counts.provenAt, now, rule)
    ? ['pair']
    : ['pair', 'address', 'name'];
  let wait: GuessWait | null = null;
  for (const scope of scopes) {
    const until = waitUntil(counts[scope], now, rule[scope]);
    if (until !== null && (wait === null || until > wait.until)) wait = { until, scope };
  }
  return wait;
}

/**
 * The client address as the throttle counts it: IPv4 as is (also when it arrives IPv4-mapped on a dual-stack
 * socket), IPv6 by its /64, since one subscriber or server holds a whole /64 and could otherwise take fresh
 * free failures from each of its 2^64 addresses. Anything unparsable is counted as given.
 */
export function clientNetwork(address: string): string {
  const bare = address.split('%')[0] as string; // a zone id names the interface, not the host
  if (isIP(bare) === 0) return address;
  const parsed = ipaddr.process(bare); // an IPv4-mapped IPv6 address becomes the IPv4 one
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const groups = (parsed as ipaddr.IPv6).parts.slice(0, 4).map((group) => group.toString(16));
  return `${groups.join(':')}::/64`;
}

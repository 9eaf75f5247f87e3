import {
  countFailure,
  type FailureCount,
  forgiveFailure,
  type GuessThrottleRule,
  type GuessWait,
  guessWait,
  levelAt,
  MQTT_SIGN_IN_THROTTLE,
  type ThrottleScope,
  waitFor,
} from '../access/guess-throttle.ts';

/**
 * Failed MQTT sign-ins (bad user name or password) per user name and client address, per address and per
 * user name, judged by access/guess-throttle.ts. Kept in the broker's memory (one broker per building): a
 * restart forgets counts and proofs, so an attacker gets the free attempts once more, and a device whose
 * user name is being guessed from many addresses at that moment waits until that count drains (minutes).
 *
 * A held-back CONNECT is refused before its password is checked. Changes of state (a key held back, a key
 * free again) are reported once each, with how many attempts were refused meanwhile, so a flood does not
 * flood the log.
 */

/** Keys kept per scope at most; beyond it the least recently failed go first. */
export const MAX_KEYS_PER_SCOPE = 10_000;

export interface ThrottleChange {
  state: 'held' | 'free';
  scope: ThrottleScope;
  /** The user name (`pair`, `name`), the client address (`address`, `pair`). */
  username: string | null;
  address: string | null;
  /** The count when the state changed. */
  failures: number;
  /** `free`: attempts refused while held. */
  refused: number;
}

export interface MqttSignInTicket {
  username: string;
  address: string;
  at: number;
  before: { address: FailureCount | undefined; name: FailureCount | undefined };
  counted: { address: FailureCount; name: FailureCount };
}

interface Entry {
  count: FailureCount;
  held: boolean;
  refused: number;
}

export class MqttSignInThrottle {
  readonly #rule: GuessThrottleRule;
  readonly #onChange: (change: ThrottleChange) => void;
  readonly #counts: Record<ThrottleScope, Map<string, Entry>> = {
    pair: new Map(),
    address: new Map(),
    name: new Map(),
  };
  /** `username\0address` → when that pair last signed in successfully. */
  readonly #proven = new Map<string, number>();
  /** Attempts refused without a password check. */
  refused = 0;

  constructor(options: { rule?: GuessThrottleRule; onChange?: (change: ThrottleChange) => void } = {}) {
    this.#rule = options.rule ?? MQTT_SIGN_IN_THROTTLE;
    this.#onChange = options.onChange ?? (() => undefined);
  }

  /**
   * Whether a CONNECT of `username` from `address` at `now` must wait (refused, not counted, no password
   * checked); otherwise it is counted as failed until `succeeded` takes it back.
   */
  attempt(username: string, address: string, now: number): GuessWait | MqttSignInTicket {
    const keys = keysOf(username, address);
    const entries = {
      pair: this.#counts.pair.get(keys.pair),
      address: this.#counts.address.get(keys.address),
      name: this.#counts.name.get(keys.name),
    };
    const wait = guessWait(
      {
        pair: entries.pair?.count,
        address: entries.address?.count,
        name: entries.name?.count,
        provenAt: this.#proven.get(keys.pair),
      },
      now,
      this.#rule,
    );
    if (wait) {
      this.refused++;
      const entry = entries[wait.scope];
      if (entry) entry.refused++;
      return wait;
    }
    const counted = {
      pair: countFailure(entries.pair?.count, now, this.#rule.pair),
      address: countFailure(entries.address?.count, now, this.#rule.address),
      name: countFailure(entries.name?.count, now, this.#rule.name),
    };
    for (const scope of ['pair', 'address', 'name'] as const)
      this.#set(scope, keys[scope], counted[scope], now);
    return {
      username,
      address,
      at: now,
      before: { address: entries.address?.count, name: entries.name?.count },
      counted: { address: counted.address, name: counted.name },
    };
  }

  /** The attempt's password was right: its pair is cleared and proven, address and name get it back. */
  succeeded(ticket: MqttSignInTicket, now: number): void {
    const keys = keysOf(ticket.username, ticket.address);
    this.#set('pair', keys.pair, undefined, now);
    this.#proven.delete(keys.pair);
    if (this.#proven.size >= MAX_KEYS_PER_SCOPE)
      this.#proven.delete(this.#proven.keys().next().value as string);
    this.#proven.set(keys.pair, ticket.at);
    for (const scope of ['address', 'name'] as const) {
      const count = this.#counts[scope].get(keys[scope])?.count;
      const counted = ticket.counted[scope];
      const untouched = count?.lastFailureAt === counted.lastFailureAt && count.level === counted.level;
      this.#set(
        scope,
        keys[scope],
        untouched ? ticket.before[scope] : forgiveFailure(count, ticket.at, this.#rule[scope]),
        now,
      );
    }
  }

  /** Forgets counts that have drained below their free failures, reporting keys that are free again. */
  sweep(now: number): void {
    for (const scope of ['pair', 'address', 'name'] as const) {
      for (const [key, entry] of this.#counts[scope]) {
        if (waitFor(levelAt(entry.count, now, this.#rule[scope]), this.#rule[scope]) === 0)
          this.#set(scope, key, undefined, now);
      }
    }
    for (const [key, at] of this.#proven) if (now - at > this.#rule.provenForMs) this.#proven.delete(key);
  }

  /** How many keys are counted per scope. */
  size(): Record<ThrottleScope, number> {
    return { pair: this.#counts.pair.size, address: this.#counts.address.size, name: this.#counts.name.size };
  }

  /** Which keys are held back right now. */
  held(): ThrottleChange[] {
    const out: ThrottleChange[] = [];
    for (const scope of ['pair', 'address', 'name'] as const)
      for (const [key, entry] of this.#counts[scope])
        if (entry.held) out.push(change('held', scope, key, entry));
    return out;
  }

  #set(scope: ThrottleScope, key: string, count: FailureCount | undefined, now: number): void {
    const map = this.#counts[scope];
    const entry = map.get(key);
    const wasHeld = entry?.held ?? false;
    // Held from the failure that goes beyond the free ones until the count drains back to them.
    const held =
      count !== undefined && waitFor(levelAt(count, now, this.#rule[scope]), this.#rule[scope]) > 0;
    if (entry && wasHeld && !held) this.#onChange(change('free', scope, key, entry));
    map.delete(key);
    if (!count) return;
    const next: Entry = { count, held, refused: held && entry ? entry.refused : 0 };
    // Re-inserted, so the map's order is the order of last change: the stalest is evicted first.
    if (map.size >= MAX_KEYS_PER_SCOPE) {
      const [stalest, old] = map.entries().next().value as [string, Entry];
      map.delete(stalest);
      if (old.held) this.#onChange(change('free', scope, stalest, old));
    }
    map.set(key, next);
    if (held && !wasHeld) this.#onChange(change('held', scope, key, next));
  }
}

function keysOf(username: string, address: string): Record<ThrottleScope, string> {
  return { pair: `${username}\u0000${address}`, address, name: username };
}

function change(
  state: ThrottleChange['state'],
  scope: ThrottleScope,
  key: string,
  entry: Entry,
): ThrottleChange {
  const [username, address] =
    scope === 'pair'
      ? (key.split('\u0000') as [string, string])
      : scope === 'name'
        ? [key, null]
        : [null, key];
  return { state, scope, username, address, failures: Math.round(entry.count.level), refused: entry.refused };
}

import type { RecordsDb } from '../database/database.ts';
import { normaliseEmail } from './member-store.ts';

export interface LockoutRule {
  /** This many failed sign-ins ... */
  failures: number;
  /** ... within this window ... */
  windowMs: number;
  /** ... lock the account this long after the last of them. */
  lockMs: number;
}

export const DEFAULT_LOCKOUT: LockoutRule = { failures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 };

/**
 * When the account is locked until (epoch ms), or null if it is not locked at `now`. `failures` are the
 * times of failed sign-ins, in any order. Locked when some `rule.failures` consecutive failures fall within
 * `rule.windowMs`; the lock lasts `rule.lockMs` from the last of them.
 */
export function lockedUntil(
  failures: readonly number[],
  now: number,
  rule: LockoutRule = DEFAULT_LOCKOUT,
): number | null {
  if (rule.failures < 1) return null;
  const times = [...failures].filter((t) => t <= now).sort((a, b) => a - b);
  let until: number | null = null;
  for (let i = rule.failures - 1; i < times.length; i++) {
    const first = times[i - (rule.failures - 1)] as number;
    const last = times[i] as number;
    if (last - first <= rule.windowMs && last + rule.lockMs > now)
      until = Math.max(until ?? 0, last + rule.lockMs);
  }
  return until;
}

/** Failed sign-ins per e-mail (known or not), kept only as long as the rule can look back. */
export class LoginFailures {
  constructor(
    private readonly records: RecordsDb,
    readonly rule: LockoutRule = DEFAULT_LOCKOUT,
  ) {}

  private get horizonMs(): number {
    return this.rule.windowMs + this.rule.lockMs;
  }

  record(email: string, now = Date.now()): void {
    this.records
      .prepare('INSERT INTO login_failures (email, at) VALUES (?, ?)')
      .run(normaliseEmail(email), now);
    this.records.prepare('DELETE FROM login_failures WHERE at < ?').run(now - this.horizonMs);
  }

  lockedUntil(email: string, now = Date.now()): number | null {
    const times = this.records
      .prepare('SELECT at FROM login_failures WHERE email = ? AND at >= ?')
      .pluck()
      .all(normaliseEmail(email), now - this.horizonMs) as number[];
    return lockedUntil(times, now, this.rule);
  }

  clear(email: string): void {
    this.records.prepare('DELETE FROM login_failures WHERE email = ?').run(normaliseEmail(email));
  }
}

/**
 * The building's access audit log: who tried to open what, when, whether it was granted, why, and what the
 * lock answered. Append-only: nothing but the retention purge removes or changes an entry. This is what its
 * callers see; `sqlite-audit-log.ts` keeps it in the records database.
 */

export type AuditDecision = 'granted' | 'denied';

export interface AuditRecordInput {
  /** Epoch ms; defaults to now. */
  at?: number;
  /** Member id, or null when nobody is signed in (a failed sign-in, a lobby token). */
  actor: string | null;
  /** What was attempted, e.g. `unlock`, `login`. */
  action: string;
  /** What it was attempted on, e.g. a space id; null if nothing in particular. */
  target: string | null;
  decision: AuditDecision;
  /** Machine-readable reason code (`booking`, `staff`, `no_booking`, …); null if none. */
  reason: string | null;
  /** Anything else worth keeping (lock answer, latency); stored as JSON. */
  detail?: Record<string, unknown>;
}

export interface AuditEntry {
  /** Position in the log; increases with every record, never reused. */
  seq: number;
  at: number;
  actor: string | null;
  action: string;
  target: string | null;
  decision: AuditDecision;
  reason: string | null;
  detail: Record<string, unknown>;
}

export interface AuditQuery {
  /** Inclusive, epoch ms. */
  from?: number;
  /** Exclusive, epoch ms. */
  to?: number;
  actor?: string;
  target?: string;
  action?: string;
  decision?: AuditDecision;
  /** Default 100, at most MAX_AUDIT_PAGE. */
  limit?: number;
  /** Paging cursor: only entries with seq below this (pass the previous page's `next`). */
  before?: number;
}

export interface AuditPage {
  /** Newest first. */
  entries: AuditEntry[];
  /** Cursor for the next (older) page, or null when this was the last one. */
  next: number | null;
}

export const MAX_AUDIT_PAGE = 500;
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;
const DAY_MS = 86_400_000;

export class AuditError extends Error {
  override name = 'AuditError';
}

/** The append-only audit log, whatever database keeps it. */
export interface AuditLog {
  /** Appends one entry and returns it with its seq. */
  record(input: AuditRecordInput): Promise<AuditEntry>;
  query(q?: AuditQuery): Promise<AuditPage>;
  /**
   * The retention purge (GDPR): removes entries older than `retentionDays` before `now` and returns how many.
   * Nothing else ever removes or changes an entry.
   */
  purge(retentionDays: number, now?: number): Promise<number>;
  count(): Promise<number>;
}

/** The time of a new entry, rounded to the ms; refuses one that is not finite. */
export function auditTime(at: number | undefined): number {
  const time = at ?? Date.now();
  if (!Number.isFinite(time)) throw new AuditError('audit entry needs a finite time');
  return Math.round(time);
}

/** The page size asked for, within 1..MAX_AUDIT_PAGE (default 100). */
export function auditPageSize(limit: number | undefined): number {
  return Math.max(1, Math.min(MAX_AUDIT_PAGE, Math.trunc(limit ?? 100)));
}

/** The purge's cut-off: entries before it go. Refuses a retention that is not a whole number of days, at least 1. */
export function purgeCutOff(retentionDays: number, now: number): number {
  if (!Number.isInteger(retentionDays) || retentionDays < 1)
    throw new AuditError('audit retention must be a whole number of days, at least 1');
  return now - retentionDays * DAY_MS;
}

/**
 * Runs the retention purge now and then once a day; resolves, once the first purge is over, to the function
 * that stops it. A failed purge is logged and tried again the next day: it must never take the API down.
 */
export async function scheduleAuditPurge(
  audit: AuditLog,
  retentionDays: number,
  logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void },
  intervalMs: number = DAY_MS,
  now: () => number = Date.now,
): Promise<() => Promise<void>> {
  const run = async () => {
    try {
      const removed = await audit.purge(retentionDays, now());
      if (removed > 0) logger?.info({ removed, retentionDays }, 'audit log: retention purge');
    } catch (err) {
      logger?.warn({ err: (err as Error).message }, 'audit log: retention purge failed');
    }
  };
  await run();
  const timer = setInterval(() => void run(), intervalMs);
  timer.unref();
  return async () => clearInterval(timer);
}

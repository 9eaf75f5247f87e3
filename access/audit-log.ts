import type { RecordsDb } from '../database/database.ts';

/**
 * The building's access audit log (table audit_log, migration 0020): who tried to open what, when, whether it
 * was granted, why, and what the lock answered. Append-only: the database itself refuses UPDATE and DELETE
 * (triggers), except for the retention purge below, so an application bug cannot rewrite history.
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

/** AUDIT_RETENTION_DAYS from the environment (whole days, at least 1); default 365. */
export function auditRetentionDays(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.AUDIT_RETENTION_DAYS;
  if (raw === undefined || raw === '') return DEFAULT_AUDIT_RETENTION_DAYS;
  const days = Number(raw);
  if (!Number.isInteger(days) || days < 1)
    throw new AuditError(`AUDIT_RETENTION_DAYS=${raw} must be a whole number of days, at least 1`);
  return days;
}

interface AuditRow {
  seq: number;
  at: number;
  actor: string | null;
  action: string;
  target: string | null;
  decision: AuditDecision;
  reason: string | null;
  detail: string;
}

function toEntry(row: AuditRow): AuditEntry {
  let detail: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(row.detail);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      detail = parsed as Record<string, unknown>;
  } catch {
    // json_valid in the schema makes this unreachable; an unreadable detail must not hide the entry.
  }
  return { ...row, detail };
}

export class AuditLog {
  readonly #records: RecordsDb;
  readonly #insert;

  constructor(records: RecordsDb) {
    this.#records = records;
    this.#insert = records.prepare(
      `INSERT INTO audit_log (at, actor, action, target, decision, reason, detail)
       VALUES (@at, @actor, @action, @target, @decision, @reason, @detail)`,
    );
  }

  /** Appends one entry and returns it with its seq. */
  record(input: AuditRecordInput): AuditEntry {
    const at = input.at ?? Date.now();
    if (!Number.isFinite(at)) throw new AuditError('audit entry needs a finite time');
    const row = {
      at: Math.round(at),
      actor: input.actor,
      action: input.action,
      target: input.target,
      decision: input.decision,
      reason: input.reason,
      detail: JSON.stringify(input.detail ?? {}),
    };
    const info = this.#insert.run(row);
    return toEntry({ seq: Number(info.lastInsertRowid), ...row });
  }

  query(q: AuditQuery = {}): AuditPage {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    const add = (sql: string, name: string, value: string | number | undefined) => {
      if (value === undefined) return;
      where.push(sql);
      params[name] = value;
    };
    add('at >= @from', 'from', q.from);
    add('at < @to', 'to', q.to);
    add('actor = @actor', 'actor', q.actor);
    add('target = @target', 'target', q.target);
    add('action = @action', 'action', q.action);
    add('decision = @decision', 'decision', q.decision);
    add('seq < @before', 'before', q.before);
    const limit = Math.max(1, Math.min(MAX_AUDIT_PAGE, Math.trunc(q.limit ?? 100)));
    // One more than asked tells whether an older page exists.
    const rows = this.#records
      .prepare(
        `SELECT seq, at, actor, action, target, decision, reason, detail FROM audit_log
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${limit + 1}`,
      )
      .all(params) as AuditRow[];
    const more = rows.length > limit;
    const entries = rows.slice(0, limit).map(toEntry);
    return { entries, next: more ? (entries[entries.length - 1]?.seq ?? null) : null };
  }

  /**
   * The retention purge (GDPR): removes entries older than `retentionDays` before `now` and returns how many.
   * The only way rows leave the log: the cut-off goes into audit_purge for the length of one transaction, and
   * the delete trigger lets through only rows older than it. The database refuses a cut-off younger than a day.
   */
  purge(retentionDays: number, now: number = Date.now()): number {
    if (!Number.isInteger(retentionDays) || retentionDays < 1)
      throw new AuditError('audit retention must be a whole number of days, at least 1');
    const before = now - retentionDays * DAY_MS;
    return this.#records.transaction(() => {
      this.#records.prepare('INSERT INTO audit_purge (id, before) VALUES (1, ?)').run(before);
      const removed = this.#records.prepare('DELETE FROM audit_log WHERE at < ?').run(before).changes;
      this.#records.prepare('DELETE FROM audit_purge WHERE id = 1').run();
      return removed;
    })();
  }

  count(): number {
    return (this.#records.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
  }
}

/**
 * Runs the retention purge now and then once a day; returns the function that stops it. A failed purge is
 * logged and tried again the next day: it must never take the API down.
 */
export function scheduleAuditPurge(
  audit: AuditLog,
  retentionDays: number,
  logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void },
  intervalMs: number = DAY_MS,
): () => Promise<void> {
  const run = () => {
    try {
      const removed = audit.purge(retentionDays);
      if (removed > 0) logger?.info({ removed, retentionDays }, 'audit log: retention purge');
    } catch (err) {
      logger?.warn({ err: (err as Error).message }, 'audit log: retention purge failed');
    }
  };
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return async () => clearInterval(timer);
}

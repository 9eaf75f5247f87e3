import type { RecordsDb } from '../database/database.ts';
import {
  type AuditEntry,
  type AuditLog,
  type AuditPage,
  type AuditQuery,
  type AuditRecordInput,
  auditPageSize,
  auditTime,
  purgeCutOff,
} from './audit-log.ts';
import { type AuditRow, toEntry } from './audit-log-rows.ts';

/**
 * The audit log in the records database (table audit_log, migration 0020). Append-only: the database itself
 * refuses UPDATE and DELETE (triggers), except for the retention purge, so an application bug cannot rewrite
 * history.
 */

export class SqliteAuditLog implements AuditLog {
  readonly #records: RecordsDb;
  readonly #insert;

  constructor(records: RecordsDb) {
    this.#records = records;
    this.#insert = records.prepare(
      `INSERT INTO audit_log (at, actor, action, target, decision, reason, detail)
       VALUES (@at, @actor, @action, @target, @decision, @reason, @detail)`,
    );
  }

  async record(input: AuditRecordInput): Promise<AuditEntry> {
    const row = {
      at: auditTime(input.at),
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

  async query(q: AuditQuery = {}): Promise<AuditPage> {
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
    const limit = auditPageSize(q.limit);
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
   * The only way rows leave the log: the cut-off goes into audit_purge for the length of one transaction, and
   * the delete trigger lets through only rows older than it. The database refuses a cut-off younger than a day.
   */
  async purge(retentionDays: number, now: number = Date.now()): Promise<number> {
    const before = purgeCutOff(retentionDays, now);
    return this.#records.transaction(() => {
      this.#records.prepare('INSERT INTO audit_purge (id, before) VALUES (1, ?)').run(before);
      const removed = this.#records.prepare('DELETE FROM audit_log WHERE at < ?').run(before).changes;
      this.#records.prepare('DELETE FROM audit_purge WHERE id = 1').run();
      return removed;
    })();
  }

  async count(): Promise<number> {
    return (this.#records.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
  }
}

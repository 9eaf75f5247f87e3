import { inTransaction, type PostgresRecords } from '../database/postgres.ts';
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
 * The audit log in PostgreSQL (table audit_log, migration 0020 of database/migrations-postgres). Append-only:
 * triggers refuse UPDATE, DELETE and TRUNCATE, except the retention purge's DELETE of rows older than the
 * cut-off it writes into audit_purge inside the same transaction.
 */

export class PostgresAuditLog implements AuditLog {
  constructor(private readonly pool: PostgresRecords) {}

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
    const { rows } = await this.pool.query<{ seq: number }>(
      `INSERT INTO audit_log (at, actor, action, target, decision, reason, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq`,
      [row.at, row.actor, row.action, row.target, row.decision, row.reason, row.detail],
    );
    return toEntry({ seq: rows[0]?.seq as number, ...row });
  }

  async query(q: AuditQuery = {}): Promise<AuditPage> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (column: string, op: string, value: string | number | undefined) => {
      if (value === undefined) return;
      params.push(value);
      where.push(`${column} ${op} $${params.length}`);
    };
    add('at', '>=', q.from);
    add('at', '<', q.to);
    add('actor', '=', q.actor);
    add('target', '=', q.target);
    add('action', '=', q.action);
    add('decision', '=', q.decision);
    add('seq', '<', q.before);
    const limit = auditPageSize(q.limit);
    // One more than asked tells whether an older page exists.
    params.push(limit + 1);
    const { rows } = await this.pool.query<AuditRow>(
      `SELECT seq, at, actor, action, target, decision, reason, detail FROM audit_log
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${params.length}`,
      params,
    );
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
    return inTransaction(this.pool, async (client) => {
      await client.query('INSERT INTO audit_purge (id, before) VALUES (1, $1)', [before]);
      const removed = (await client.query('DELETE FROM audit_log WHERE at < $1', [before])).rowCount ?? 0;
      await client.query('DELETE FROM audit_purge WHERE id = 1');
      return removed;
    });
  }

  async count(): Promise<number> {
    return (await this.pool.query<{ n: number }>('SELECT count(*) AS n FROM audit_log')).rows[0]?.n ?? 0;
  }
}

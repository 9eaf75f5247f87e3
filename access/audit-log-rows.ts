import type { AuditDecision, AuditEntry } from './audit-log.ts';

/** An audit entry as both engines keep it in the records: its row and how it reads. */

export interface AuditRow {
  seq: number;
  at: number;
  actor: string | null;
  action: string;
  target: string | null;
  decision: AuditDecision;
  reason: string | null;
  detail: string;
}

export function toEntry(row: AuditRow): AuditEntry {
  let detail: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(row.detail);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      detail = parsed as Record<string, unknown>;
  } catch {
    // The schema's check (json_valid in SQLite, ::json in PostgreSQL) makes this unreachable; an unreadable
    // detail must not hide the entry.
  }
  return { ...row, detail };
}

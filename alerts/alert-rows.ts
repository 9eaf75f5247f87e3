import type { AlertKind } from './alert-rules.ts';
import type { Alert } from './alert-store.ts';

/**
 * An alert as both engines keep it in the records: its row (with the name of the member who acknowledged it)
 * and how it reads.
 */

export interface AlertRow {
  id: number;
  /** NULL only for a row from before alerts carried their site, until the home site is given it. */
  site: string | null;
  kind: AlertKind;
  subject: string;
  space_id: string | null;
  device_id: string | null;
  since: number;
  opened_at: number;
  updated_at: number;
  value: number | null;
  unit: string | null;
  detail: string;
  cleared_at: number | null;
  acknowledged_by: string | null;
  acknowledged_at: number | null;
  member_name: string | null;
}

/** `site`: the store's, which reads its own site's rows only. */
export function toAlert(row: AlertRow, site: string): Alert {
  let detail: Record<string, string | number> = {};
  try {
    const parsed: unknown = JSON.parse(row.detail);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      detail = parsed as Record<string, string | number>;
  } catch {
    // The schema's check (json_valid in SQLite, ::json in PostgreSQL) makes this unreachable; an unreadable
    // detail must not hide the alert.
  }
  return {
    id: row.id,
    site: row.site ?? site,
    kind: row.kind,
    subject: row.subject,
    space: row.space_id,
    device: row.device_id,
    since: row.since,
    openedAt: row.opened_at,
    updatedAt: row.updated_at,
    value: row.value,
    unit: row.unit,
    detail,
    clearedAt: row.cleared_at,
    acknowledged:
      row.acknowledged_by !== null && row.acknowledged_at !== null
        ? { by: row.acknowledged_by, name: row.member_name, at: row.acknowledged_at }
        : null,
  };
}

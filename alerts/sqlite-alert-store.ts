import type { RecordsDb } from '../database/database.ts';
import { type AlertRow, toAlert } from './alert-rows.ts';
import type { Condition, OpenAlertRef } from './alert-rules.ts';
import { type AcknowledgeResult, type Alert, type AlertStore, MAX_ALERTS_LISTED } from './alert-store.ts';

/**
 * One house's alerts in the records database (table alerts, migrations 0030 and 0175). The database holds one
 * open alert per (site, kind, subject): a unique index refuses a second, whatever writes it. Every statement
 * reads and writes this store's site only: an id of another house's alert is not found here.
 */

const SELECT = `SELECT alerts.*, members.name AS member_name FROM alerts
  LEFT JOIN members ON members.id = alerts.acknowledged_by`;

export class SqliteAlertStore implements AlertStore {
  readonly site: string;
  readonly #db: RecordsDb;
  readonly #s;

  constructor(db: RecordsDb, site: string) {
    this.#db = db;
    this.site = site;
    this.#s = {
      byId: db.prepare<[number, string], AlertRow>(`${SELECT} WHERE alerts.id = ? AND alerts.site = ?`),
      openOf: db.prepare<[string, string, string], AlertRow>(
        `${SELECT} WHERE alerts.kind = ? AND alerts.subject = ? AND alerts.site = ? AND alerts.cleared_at IS NULL`,
      ),
      open: db.prepare<[string], AlertRow>(
        `${SELECT} WHERE alerts.site = ? AND alerts.cleared_at IS NULL ORDER BY alerts.id DESC`,
      ),
      newest: db.prepare<[string, number], AlertRow>(
        `${SELECT} WHERE alerts.site = ? ORDER BY alerts.id DESC LIMIT ?`,
      ),
      insert: db.prepare(
        `INSERT INTO alerts (site, kind, subject, space_id, device_id, since, opened_at, updated_at, value, unit, detail)
         VALUES (@site, @kind, @subject, @space, @device, @since, @at, @at, @value, @unit, @detail)`,
      ),
      update: db.prepare(
        `UPDATE alerts SET value = @value, unit = @unit, detail = @detail, updated_at = @at
         WHERE id = @id AND site = @site AND cleared_at IS NULL`,
      ),
      clear: db.prepare<[number, number, number, string]>(
        'UPDATE alerts SET cleared_at = ?, updated_at = ? WHERE id = ? AND site = ? AND cleared_at IS NULL',
      ),
      acknowledge: db.prepare<[string, number, number, string]>(
        'UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ? WHERE id = ? AND site = ? AND acknowledged_at IS NULL',
      ),
    };
  }

  #alert = (row: AlertRow): Alert => toAlert(row, this.site);

  async get(id: number): Promise<Alert | undefined> {
    return this.#get(id);
  }

  /** Inside the transactions below, which better-sqlite3 runs synchronously. */
  #get(id: number): Alert | undefined {
    const row = this.#s.byId.get(id, this.site);
    return row ? this.#alert(row) : undefined;
  }

  /** Every open alert, newest first. */
  async openAlerts(): Promise<Alert[]> {
    return this.#s.open.all(this.site).map(this.#alert);
  }

  /** The newest alerts, open or cleared (at most MAX_ALERTS_LISTED). */
  async newest(limit = 100): Promise<Alert[]> {
    return this.#s.newest.all(this.site, Math.max(1, Math.min(limit, MAX_ALERTS_LISTED))).map(this.#alert);
  }

  /** What the rules need to compare against. */
  async openRefs(): Promise<OpenAlertRef[]> {
    return (await this.openAlerts()).map((a) => ({
      id: a.id,
      kind: a.kind,
      subject: a.subject,
      value: a.value,
      detail: a.detail,
    }));
  }

  /** Opens an alert for the condition; if one is already open for its (site, kind, subject), returns that one unchanged. */
  async open(condition: Condition, at: number): Promise<{ alert: Alert; opened: boolean }> {
    return this.#db.transaction(() => {
      const existing = this.#s.openOf.get(condition.kind, condition.subject, this.site);
      if (existing) return { alert: this.#alert(existing), opened: false };
      const { lastInsertRowid } = this.#s.insert.run({
        site: this.site,
        kind: condition.kind,
        subject: condition.subject,
        space: condition.space,
        device: condition.device,
        since: Math.round(condition.since),
        at: Math.round(at),
        value: condition.value,
        unit: condition.unit,
        detail: JSON.stringify(condition.detail),
      });
      return { alert: this.#get(Number(lastInsertRowid)) as Alert, opened: true };
    })();
  }

  /** The newest value of an open alert; undefined if it is not open (any more). */
  async update(
    id: number,
    condition: Pick<Condition, 'value' | 'unit' | 'detail'>,
    at: number,
  ): Promise<Alert | undefined> {
    const changed = this.#s.update.run({
      id,
      site: this.site,
      value: condition.value,
      unit: condition.unit,
      detail: JSON.stringify(condition.detail),
      at: Math.round(at),
    }).changes;
    return changed === 1 ? this.#get(id) : undefined;
  }

  /** The condition is over; undefined if it was not open. */
  async clear(id: number, at: number): Promise<Alert | undefined> {
    return this.#s.clear.run(Math.round(at), Math.round(at), id, this.site).changes === 1
      ? this.#get(id)
      : undefined;
  }

  /**
   * A member has seen it. Idempotent: acknowledging again changes nothing and keeps who saw it first.
   * A cleared alert may still be acknowledged (someone went and looked after it was over).
   */
  async acknowledge(id: number, memberId: string, at: number): Promise<AcknowledgeResult> {
    return this.#db.transaction((): AcknowledgeResult => {
      const changed = this.#s.acknowledge.run(memberId, Math.round(at), id, this.site).changes === 1;
      const alert = this.#get(id);
      if (!alert) return { outcome: 'not_found' };
      return { outcome: changed ? 'acknowledged' : 'already', alert };
    })();
  }
}

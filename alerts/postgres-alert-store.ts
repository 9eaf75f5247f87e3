import { inTransaction, type PostgresRecords } from '../database/postgres.ts';
import { type AlertRow, toAlert } from './alert-rows.ts';
import type { Condition, OpenAlertRef } from './alert-rules.ts';
import { type AcknowledgeResult, type Alert, type AlertStore, MAX_ALERTS_LISTED } from './alert-store.ts';

/**
 * One house's alerts in PostgreSQL (table alerts). The partial unique index alerts_one_open holds one open
 * alert per (site, kind, subject) whatever writes it; opening is an insert that yields to it
 * (`ON CONFLICT … DO NOTHING`), so two watchers opening the same alert at once get the same one. Every
 * statement reads and writes this store's site only.
 */

const SELECT = `SELECT alerts.*, members.name AS member_name FROM alerts
  LEFT JOIN members ON members.id = alerts.acknowledged_by`;

export class PostgresAlertStore implements AlertStore {
  constructor(
    private readonly pool: PostgresRecords,
    readonly site: string,
  ) {}

  /** `where` names the site as $1. */
  async #select(where: string, params: unknown[]): Promise<Alert[]> {
    return (await this.pool.query<AlertRow>(`${SELECT} ${where}`, [this.site, ...params])).rows.map((row) =>
      toAlert(row, this.site),
    );
  }

  async get(id: number): Promise<Alert | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    return (await this.#select('WHERE alerts.site = $1 AND alerts.id = $2', [id]))[0];
  }

  async openAlerts(): Promise<Alert[]> {
    return this.#select('WHERE alerts.site = $1 AND alerts.cleared_at IS NULL ORDER BY alerts.id DESC', []);
  }

  async newest(limit = 100): Promise<Alert[]> {
    return this.#select('WHERE alerts.site = $1 ORDER BY alerts.id DESC LIMIT $2', [
      Math.max(1, Math.min(limit, MAX_ALERTS_LISTED)),
    ]);
  }

  async openRefs(): Promise<OpenAlertRef[]> {
    return (await this.openAlerts()).map((a) => ({
      id: a.id,
      kind: a.kind,
      subject: a.subject,
      value: a.value,
      detail: a.detail,
    }));
  }

  async open(condition: Condition, at: number): Promise<{ alert: Alert; opened: boolean }> {
    for (;;) {
      const { rows } = await this.pool.query<{ id: number }>(
        `INSERT INTO alerts (site, kind, subject, space_id, device_id, since, opened_at, updated_at, value, unit, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10)
         ON CONFLICT ((coalesce(site, '')), kind, subject) WHERE cleared_at IS NULL DO NOTHING RETURNING id`,
        [
          this.site,
          condition.kind,
          condition.subject,
          condition.space,
          condition.device,
          Math.round(condition.since),
          Math.round(at),
          condition.value,
          condition.unit,
          JSON.stringify(condition.detail),
        ],
      );
      if (rows[0]) return { alert: (await this.get(rows[0].id)) as Alert, opened: true };
      const open = (
        await this.#select(
          'WHERE alerts.site = $1 AND alerts.kind = $2 AND alerts.subject = $3 AND alerts.cleared_at IS NULL',
          [condition.kind, condition.subject],
        )
      )[0];
      if (open) return { alert: open, opened: false };
      // Cleared between the insert and the look: open it now.
    }
  }

  async update(
    id: number,
    condition: Pick<Condition, 'value' | 'unit' | 'detail'>,
    at: number,
  ): Promise<Alert | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    const { rowCount } = await this.pool.query(
      `UPDATE alerts SET value = $1, unit = $2, detail = $3, updated_at = $4
       WHERE id = $5 AND site = $6 AND cleared_at IS NULL`,
      [condition.value, condition.unit, JSON.stringify(condition.detail), Math.round(at), id, this.site],
    );
    return rowCount === 1 ? this.get(id) : undefined;
  }

  async clear(id: number, at: number): Promise<Alert | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    const { rowCount } = await this.pool.query(
      'UPDATE alerts SET cleared_at = $1, updated_at = $1 WHERE id = $2 AND site = $3 AND cleared_at IS NULL',
      [Math.round(at), id, this.site],
    );
    return rowCount === 1 ? this.get(id) : undefined;
  }

  async acknowledge(id: number, memberId: string, at: number): Promise<AcknowledgeResult> {
    if (!Number.isSafeInteger(id)) return { outcome: 'not_found' };
    return inTransaction(this.pool, async (client): Promise<AcknowledgeResult> => {
      const changed =
        (
          await client.query(
            `UPDATE alerts SET acknowledged_by = $1, acknowledged_at = $2
             WHERE id = $3 AND site = $4 AND acknowledged_at IS NULL`,
            [memberId, Math.round(at), id, this.site],
          )
        ).rowCount === 1;
      const row = (
        await client.query<AlertRow>(`${SELECT} WHERE alerts.id = $1 AND alerts.site = $2`, [id, this.site])
      ).rows[0];
      if (!row) return { outcome: 'not_found' };
      return { outcome: changed ? 'acknowledged' : 'already', alert: toAlert(row, this.site) };
    });
  }
}

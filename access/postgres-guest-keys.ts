import { randomUUID } from 'node:crypto';
import type { PostgresRecords } from '../database/postgres.ts';
import {
  GUEST_KEY_COLUMNS,
  type GuestKey,
  type GuestKeyRow,
  type GuestKeys,
  guestKeyTokenHash,
  type NewGuestKey,
  newGuestKeyToken,
  toGuestKey,
} from './guest-keys.ts';

/** Guest keys in PostgreSQL (table guest_keys). */
export class PostgresGuestKeys implements GuestKeys {
  constructor(private readonly pool: PostgresRecords) {}

  async create(input: NewGuestKey, now: number): Promise<{ key: GuestKey; token: string }> {
    const { token, hash } = newGuestKeyToken();
    const { rows } = await this.pool.query<GuestKeyRow>(
      `INSERT INTO guest_keys (id, token_hash, host_id, space_id, booking_id, label, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${GUEST_KEY_COLUMNS}`,
      [randomUUID(), hash, input.hostId, input.spaceId, input.bookingId, input.label, now],
    );
    return { key: toGuestKey(rows[0] as GuestKeyRow), token };
  }

  private async one(where: string, value: string): Promise<GuestKey | undefined> {
    const row = (
      await this.pool.query<GuestKeyRow>(`SELECT ${GUEST_KEY_COLUMNS} FROM guest_keys WHERE ${where} = $1`, [
        value,
      ])
    ).rows[0];
    return row ? toGuestKey(row) : undefined;
  }

  async byToken(token: string): Promise<GuestKey | undefined> {
    return this.one('token_hash', guestKeyTokenHash(token));
  }

  async get(id: string): Promise<GuestKey | undefined> {
    return this.one('id', id);
  }

  async listByHost(hostId: string): Promise<GuestKey[]> {
    const { rows } = await this.pool.query<GuestKeyRow>(
      `SELECT ${GUEST_KEY_COLUMNS} FROM guest_keys WHERE host_id = $1 ORDER BY created_at DESC, id LIMIT 200`,
      [hostId],
    );
    return rows.map(toGuestKey);
  }

  async revoke(id: string, by: string, now: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'UPDATE guest_keys SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL',
      [now, by, id],
    );
    return rowCount === 1;
  }
}

import { randomUUID } from 'node:crypto';
import type { RecordsDb } from '../database/database.ts';
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

/** Guest keys in the records file (table guest_keys). */
export class SqliteGuestKeys implements GuestKeys {
  private readonly s;

  constructor(db: RecordsDb) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO guest_keys (id, token_hash, host_id, space_id, booking_id, label, created_at)
         VALUES (@id, @token_hash, @host_id, @space_id, @booking_id, @label, @created_at)`,
      ),
      byId: db.prepare<[string], GuestKeyRow>(`SELECT ${GUEST_KEY_COLUMNS} FROM guest_keys WHERE id = ?`),
      byHash: db.prepare<[string], GuestKeyRow>(
        `SELECT ${GUEST_KEY_COLUMNS} FROM guest_keys WHERE token_hash = ?`,
      ),
      byHost: db.prepare<[string], GuestKeyRow>(
        `SELECT ${GUEST_KEY_COLUMNS} FROM guest_keys WHERE host_id = ? ORDER BY created_at DESC, id LIMIT 200`,
      ),
      revoke: db.prepare<[number, string, string]>(
        'UPDATE guest_keys SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL',
      ),
    };
  }

  async create(input: NewGuestKey, now: number): Promise<{ key: GuestKey; token: string }> {
    const { token, hash } = newGuestKeyToken();
    const id = randomUUID();
    this.s.insert.run({
      id,
      token_hash: hash,
      host_id: input.hostId,
      space_id: input.spaceId,
      booking_id: input.bookingId,
      label: input.label,
      created_at: now,
    });
    return { key: toGuestKey(this.s.byId.get(id) as GuestKeyRow), token };
  }

  async byToken(token: string): Promise<GuestKey | undefined> {
    const row = this.s.byHash.get(guestKeyTokenHash(token));
    return row ? toGuestKey(row) : undefined;
  }

  async get(id: string): Promise<GuestKey | undefined> {
    const row = this.s.byId.get(id);
    return row ? toGuestKey(row) : undefined;
  }

  async listByHost(hostId: string): Promise<GuestKey[]> {
    return this.s.byHost.all(hostId).map(toGuestKey);
  }

  async revoke(id: string, by: string, now: number): Promise<boolean> {
    return this.s.revoke.run(now, by, id).changes === 1;
  }
}

import { createHash, randomBytes } from 'node:crypto';

/**
 * Guest keys as kept, whatever database keeps them (`sqlite-guest-keys.ts`, `postgres-guest-keys.ts`): whose,
 * for which booking and room, revoked or not. The link's secret is never kept, only its hash; when a key opens
 * is access/guest-key-rules.ts.
 */

export interface GuestKey {
  id: string;
  hostId: string;
  spaceId: string;
  bookingId: string;
  label: string;
  createdAt: number;
  revokedAt: number | null;
  revokedBy: string | null;
  /**
   * The house the key opens a door of: its booking's site (space ids repeat between the houses of a network,
   * so a key is never read without it). Null only for a booking from before bookings carried their site.
   */
  site: string | null;
}

export interface NewGuestKey {
  hostId: string;
  spaceId: string;
  bookingId: string;
  label: string;
}

export interface GuestKeys {
  /** A new key and the secret of its link (shown once, to the host). */
  create(input: NewGuestKey, now: number): Promise<{ key: GuestKey; token: string }>;
  byToken(token: string): Promise<GuestKey | undefined>;
  get(id: string): Promise<GuestKey | undefined>;
  /** The host's keys, newest first (at most 200). */
  listByHost(hostId: string): Promise<GuestKey[]>;
  /** False when there was no key or it was revoked already. */
  revoke(id: string, by: string, now: number): Promise<boolean>;
}

/**
 * A key's house is read from its booking (a booking's site never changes), so a key cannot name one house
 * while opening its booking's room in another.
 */
export const GUEST_KEY_COLUMNS =
  'id, host_id, space_id, booking_id, label, created_at, revoked_at, revoked_by, ' +
  '(SELECT b.site FROM bookings b WHERE b.id = guest_keys.booking_id) AS site';

export interface GuestKeyRow {
  id: string;
  host_id: string;
  space_id: string;
  booking_id: string;
  label: string;
  created_at: number | string;
  revoked_at: number | string | null;
  revoked_by: string | null;
  site: string | null;
}

export function toGuestKey(row: GuestKeyRow): GuestKey {
  return {
    id: row.id,
    hostId: row.host_id,
    spaceId: row.space_id,
    bookingId: row.booking_id,
    label: row.label,
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    revokedBy: row.revoked_by,
    site: row.site,
  };
}

/** The secret of a key's link: 24 random bytes, base64url (32 characters). Only its hash is kept. */
export function newGuestKeyToken(): { token: string; hash: string } {
  const token = randomBytes(24).toString('base64url');
  return { token, hash: guestKeyTokenHash(token) };
}

export function guestKeyTokenHash(token: string): string {
  return createHash('sha256').update(`guest-key:${token}`).digest('hex');
}

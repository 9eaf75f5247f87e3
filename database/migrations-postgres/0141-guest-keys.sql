-- The twin of database/migrations/0141-guest-keys.sql for PostgreSQL (same tables, same columns).

CREATE TABLE guest_keys (
  id          TEXT PRIMARY KEY,
  token_hash  TEXT NOT NULL UNIQUE,
  host_id     TEXT NOT NULL REFERENCES members (id),
  space_id    TEXT NOT NULL,
  booking_id  TEXT NOT NULL REFERENCES bookings (id),
  label       TEXT NOT NULL DEFAULT '',
  created_at  BIGINT NOT NULL,
  revoked_at  BIGINT,
  revoked_by  TEXT REFERENCES members (id)
);
CREATE INDEX guest_keys_host ON guest_keys (host_id, created_at);
CREATE INDEX guest_keys_booking ON guest_keys (booking_id);

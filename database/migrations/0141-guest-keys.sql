-- Guest keys (issue 13): a member (or an event's organiser) gives a guest a link that opens one door during
-- one booking. Only the hash of the link's secret is kept; the key stays as a record after its booking, and a
-- revoked key says when and by whom.

CREATE TABLE guest_keys (
  id          TEXT PRIMARY KEY,
  token_hash  TEXT NOT NULL UNIQUE,
  host_id     TEXT NOT NULL REFERENCES members (id),
  space_id    TEXT NOT NULL,
  booking_id  TEXT NOT NULL REFERENCES bookings (id),
  -- The host's own note of whom it is for ("Referentin"), shown to the host only.
  label       TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  revoked_at  INTEGER,
  revoked_by  TEXT REFERENCES members (id)
);
CREATE INDEX guest_keys_host ON guest_keys (host_id, created_at);
CREATE INDEX guest_keys_booking ON guest_keys (booking_id);

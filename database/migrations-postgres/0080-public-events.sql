-- The twin of database/migrations/0080-public-events.sql for PostgreSQL (same tables, same columns).
-- Public events on the time a booking or a booking series holds.

CREATE TABLE events (
  id           TEXT PRIMARY KEY,
  title        TEXT NOT NULL,
  description  TEXT NOT NULL DEFAULT '',
  capacity     INTEGER CHECK (capacity IS NULL OR capacity > 0),
  visibility   TEXT NOT NULL CHECK (visibility IN ('public', 'members')),
  booking_id   TEXT REFERENCES bookings (id),
  series_id    TEXT REFERENCES booking_series (id),
  organiser_id TEXT NOT NULL REFERENCES members (id),
  created_at   BIGINT NOT NULL,
  cancelled_at BIGINT,
  CHECK ((booking_id IS NULL) <> (series_id IS NULL))
);
CREATE INDEX events_booking ON events (booking_id);
CREATE INDEX events_series ON events (series_id);

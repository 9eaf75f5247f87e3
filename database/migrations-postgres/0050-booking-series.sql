-- The twin of database/migrations/0050-booking-series.sql for PostgreSQL (same tables, same columns).
-- Recurring bookings: the series keeps its RFC 5545 rule; each date is an ordinary row in bookings (the
-- exclusion constraint keeps them from overlapping like any booking).

CREATE TABLE booking_series (
  id               TEXT PRIMARY KEY,
  member_id        TEXT NOT NULL REFERENCES members (id),
  space_id         TEXT NOT NULL,
  rrule            TEXT NOT NULL,
  -- YYYY-MM-DDTHH:MM in time_zone: DTSTART;TZID=…
  first_start      TEXT NOT NULL,
  time_zone        TEXT NOT NULL,
  duration_minutes INTEGER NOT NULL CHECK (duration_minutes > 0),
  created_at       BIGINT NOT NULL,
  cancelled_at     BIGINT
);
CREATE INDEX booking_series_member ON booking_series (member_id);

ALTER TABLE bookings ADD COLUMN series_id TEXT REFERENCES booking_series (id);
ALTER TABLE bookings ADD COLUMN occurrence TEXT;
CREATE INDEX bookings_series_occurrence ON bookings (series_id, occurrence);

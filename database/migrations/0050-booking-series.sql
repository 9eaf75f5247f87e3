-- Recurring bookings (series). A series is kept as its RFC 5545 rule (RRULE value, the first occurrence's
-- local start with its time zone, the length in minutes), and each of its dates is an ordinary row in
-- bookings, so the no-overlap trigger, check-in, the lobby and the board report see them like any booking.
-- A date skipped as a conflict has no row; a date cancelled has a cancelled row; a date moved keeps its
-- occurrence (the RECURRENCE-ID) with another start and end.

CREATE TABLE booking_series (
  id               TEXT PRIMARY KEY,
  member_id        TEXT NOT NULL REFERENCES members (id),
  space_id         TEXT NOT NULL,
  rrule            TEXT NOT NULL,
  -- YYYY-MM-DDTHH:MM in time_zone: DTSTART;TZID=…
  first_start      TEXT NOT NULL,
  time_zone        TEXT NOT NULL,
  duration_minutes INTEGER NOT NULL CHECK (duration_minutes > 0),
  created_at       INTEGER NOT NULL,
  -- Set once no date of the series is left (cancelled as a whole or from its first date on).
  cancelled_at     INTEGER
);
CREATE INDEX booking_series_member ON booking_series (member_id);

ALTER TABLE bookings ADD COLUMN series_id TEXT REFERENCES booking_series (id);
-- The date's local start as the rule gives it (YYYY-MM-DDTHH:MM, the series' zone), also when it was moved.
ALTER TABLE bookings ADD COLUMN occurrence TEXT;
CREATE INDEX bookings_series_occurrence ON bookings (series_id, occurrence);

-- The twin of database/migrations/0100-booking-moments.sql for PostgreSQL (same table, same columns).
-- Booking moments told on the event feed, claimed once by whichever API process inserts the row first
-- (INSERT ... ON CONFLICT DO NOTHING). Times are epoch milliseconds (BIGINT), the application's clock.

CREATE TABLE booking_moments_told (
  booking_id TEXT NOT NULL,
  moment     TEXT NOT NULL CHECK (moment IN ('started', 'ended')),
  at         BIGINT NOT NULL,
  PRIMARY KEY (booking_id, moment)
);
CREATE INDEX booking_moments_told_at ON booking_moments_told (at);

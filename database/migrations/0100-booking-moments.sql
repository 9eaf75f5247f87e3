-- The moments of bookings told on the building's event feed (bookings/booking-clock.ts): a booking starting
-- or ending is noticed by every API process's clock, and the one whose row goes in first tells it, so it is
-- told once. Kept a day (the clock looks minutes back), then pruned by the clock itself.

CREATE TABLE booking_moments_told (
  booking_id TEXT NOT NULL,
  moment     TEXT NOT NULL CHECK (moment IN ('started', 'ended')),
  at         INTEGER NOT NULL,
  PRIMARY KEY (booking_id, moment)
);
CREATE INDEX booking_moments_told_at ON booking_moments_told (at);

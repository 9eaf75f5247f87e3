-- A moment of a booking is the booking, the kind and the time: a booking moved after it started (or a moved
-- booking whose old start was claimed) starts again at its new time, and that is told too. Claimed once per
-- (booking, moment, time) by whichever API process inserts the row first (bookings/booking-clock.ts).

CREATE TABLE booking_moments_told_by_time (
  booking_id TEXT NOT NULL,
  moment     TEXT NOT NULL CHECK (moment IN ('started', 'ended')),
  at         INTEGER NOT NULL,
  PRIMARY KEY (booking_id, moment, at)
);
INSERT INTO booking_moments_told_by_time (booking_id, moment, at)
  SELECT booking_id, moment, at FROM booking_moments_told;
DROP TABLE booking_moments_told;
ALTER TABLE booking_moments_told_by_time RENAME TO booking_moments_told;
CREATE INDEX booking_moments_told_at ON booking_moments_told (at);

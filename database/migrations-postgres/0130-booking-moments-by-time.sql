-- The twin of database/migrations/0130-booking-moments-by-time.sql for PostgreSQL: a moment of a booking is
-- the booking, the kind and the time, so a moved booking's new start (or end) is claimed and told again.

ALTER TABLE booking_moments_told DROP CONSTRAINT booking_moments_told_pkey;
ALTER TABLE booking_moments_told ADD PRIMARY KEY (booking_id, moment, at);

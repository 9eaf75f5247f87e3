-- The twin of database/migrations/0165-booking-sites.sql for PostgreSQL (same columns). Bookings and series
-- carry their site; the exclusion constraint keeps two active bookings apart only within one (site, space).
-- Rows from before have no site (NULL) until whoever opens the records knowing the installation's home site
-- gives them it (records/records.ts, `homeSite`); meanwhile coalesce keeps them apart among themselves.

ALTER TABLE bookings ADD COLUMN site TEXT CHECK (site IS NULL OR length(site) BETWEEN 1 AND 64);
ALTER TABLE booking_series ADD COLUMN site TEXT CHECK (site IS NULL OR length(site) BETWEEN 1 AND 64);

DROP INDEX bookings_space_time;
CREATE INDEX bookings_site_space_time ON bookings (site, space_id, start_ms);
DROP INDEX bookings_status_start;
CREATE INDEX bookings_site_status_start ON bookings (site, status, start_ms);

ALTER TABLE bookings DROP CONSTRAINT bookings_no_overlap;
ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
  (coalesce(site, '')) WITH =,
  space_id WITH =,
  tstzrange(to_timestamp(start_ms / 1000.0), to_timestamp(end_ms / 1000.0), '[)') WITH &&
) WHERE (status IN ('booked', 'checked_in'));

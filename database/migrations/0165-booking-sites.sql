-- Bookings carry their site (issue 11, SITES_DIR: "keys carry the site"). Space ids may repeat between the
-- houses of a network (both have an "eg" or a "protel-1"), so a booking is of (site, space), and two active
-- bookings overlap only when both are of the same space in the same house.
--
-- Rows from before this migration have no site (NULL). They are the installation's home site's: its only site
-- with SITE_FILE, the first site file of SITES_DIR (the one every API served until now). Whoever opens the
-- records knowing that site gives them it (records/records.ts, `homeSite`: every `wesprint` start does, once,
-- before anything books); a migration cannot, as it does not know the site files. Until then the triggers
-- keep the rows without a site apart among themselves, exactly as before.

ALTER TABLE bookings ADD COLUMN site TEXT CHECK (site IS NULL OR length(site) BETWEEN 1 AND 64);
ALTER TABLE booking_series ADD COLUMN site TEXT CHECK (site IS NULL OR length(site) BETWEEN 1 AND 64);

DROP INDEX bookings_space_time;
CREATE INDEX bookings_site_space_time ON bookings (site, space_id, start_ms);
DROP INDEX bookings_status_start;
CREATE INDEX bookings_site_status_start ON bookings (site, status, start_ms);

DROP TRIGGER bookings_no_overlap_insert;
DROP TRIGGER bookings_no_overlap_update;

CREATE TRIGGER bookings_no_overlap_insert
BEFORE INSERT ON bookings
WHEN NEW.status IN ('booked', 'checked_in')
BEGIN
  SELECT RAISE(ABORT, 'booking_overlap')
  WHERE EXISTS (
    SELECT 1 FROM bookings b
    WHERE b.site IS NEW.site
      AND b.space_id = NEW.space_id
      AND b.status IN ('booked', 'checked_in')
      AND b.start_ms < NEW.end_ms
      AND NEW.start_ms < b.end_ms
  );
END;

CREATE TRIGGER bookings_no_overlap_update
BEFORE UPDATE OF site, space_id, start_ms, end_ms, status ON bookings
WHEN NEW.status IN ('booked', 'checked_in')
BEGIN
  SELECT RAISE(ABORT, 'booking_overlap')
  WHERE EXISTS (
    SELECT 1 FROM bookings b
    WHERE b.id <> NEW.id
      AND b.site IS NEW.site
      AND b.space_id = NEW.space_id
      AND b.status IN ('booked', 'checked_in')
      AND b.start_ms < NEW.end_ms
      AND NEW.start_ms < b.end_ms
  );
END;

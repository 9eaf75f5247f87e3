-- Public events (issue 13): a title, a description, a capacity and who may see it, on the time a booking or
-- a booking series holds. The room, the dates and the conflicts stay the bookings' business: an event has no
-- times of its own, its dates are the active dates of its booking or series.

CREATE TABLE events (
  id           TEXT PRIMARY KEY,
  title        TEXT NOT NULL,
  description  TEXT NOT NULL DEFAULT '',
  -- Places for visitors; NULL: as many as the room holds (no count kept).
  capacity     INTEGER CHECK (capacity IS NULL OR capacity > 0),
  visibility   TEXT NOT NULL CHECK (visibility IN ('public', 'members')),
  booking_id   TEXT REFERENCES bookings (id),
  series_id    TEXT REFERENCES booking_series (id),
  organiser_id TEXT NOT NULL REFERENCES members (id),
  created_at   INTEGER NOT NULL,
  cancelled_at INTEGER,
  CHECK ((booking_id IS NULL) <> (series_id IS NULL))
);
CREATE INDEX events_booking ON events (booking_id);
CREATE INDEX events_series ON events (series_id);

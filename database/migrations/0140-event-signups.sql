-- Sign-ups for public events (issue 13): a visitor takes places on one date of an event (a date is a booking
-- of the event's booking or series), with an e-mail address or without one, up to the event's capacity; the
-- rest wait in the order they came. What a visitor leaves is deleted once the date is over (the purge,
-- events/signup-store.ts); the counts of each date stay, with the organiser's count of who came.

CREATE TABLE event_signups (
  id          TEXT PRIMARY KEY,
  event_id    TEXT NOT NULL REFERENCES events (id),
  date_id     TEXT NOT NULL REFERENCES bookings (id),
  places      INTEGER NOT NULL CHECK (places BETWEEN 1 AND 10),
  -- NULL: signed up without an address (a place count only).
  email       TEXT,
  -- SHA-256 of the visitor's cancel token (the token itself is only ever in the visitor's link).
  cancel_hash TEXT NOT NULL UNIQUE,
  status      TEXT NOT NULL CHECK (status IN ('confirmed', 'waiting', 'cancelled')),
  -- Order of arrival on this date: the waiting list moves up in it.
  position    INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  UNIQUE (event_id, date_id, position)
);
CREATE INDEX event_signups_date ON event_signups (event_id, date_id, status, position);

-- What stays of a date after the purge: places taken and waiting now, sign-ups made, the organiser's count.
CREATE TABLE event_date_counts (
  event_id         TEXT NOT NULL REFERENCES events (id),
  date_id          TEXT NOT NULL REFERENCES bookings (id),
  confirmed_places INTEGER NOT NULL DEFAULT 0 CHECK (confirmed_places >= 0),
  waiting_places   INTEGER NOT NULL DEFAULT 0 CHECK (waiting_places >= 0),
  signups          INTEGER NOT NULL DEFAULT 0 CHECK (signups >= 0),
  cancelled_places INTEGER NOT NULL DEFAULT 0 CHECK (cancelled_places >= 0),
  next_position    INTEGER NOT NULL DEFAULT 1,
  -- How many came, entered by the organiser or staff after the date; NULL: not entered (yet).
  attended         INTEGER CHECK (attended IS NULL OR attended >= 0),
  attended_by      TEXT REFERENCES members (id),
  attended_at      INTEGER,
  -- When the visitors' data of this date was deleted; NULL: not yet.
  purged_at        INTEGER,
  PRIMARY KEY (event_id, date_id)
);

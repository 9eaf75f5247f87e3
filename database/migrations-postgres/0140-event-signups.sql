-- The twin of database/migrations/0140-event-signups.sql for PostgreSQL (same tables, same columns).
-- Sign-ups for public events; the visitors' data deleted after the date, the counts kept.

CREATE TABLE event_signups (
  id          TEXT PRIMARY KEY,
  event_id    TEXT NOT NULL REFERENCES events (id),
  date_id     TEXT NOT NULL REFERENCES bookings (id),
  places      INTEGER NOT NULL CHECK (places BETWEEN 1 AND 10),
  email       TEXT,
  cancel_hash TEXT NOT NULL UNIQUE,
  status      TEXT NOT NULL CHECK (status IN ('confirmed', 'waiting', 'cancelled')),
  position    INTEGER NOT NULL,
  created_at  BIGINT NOT NULL,
  UNIQUE (event_id, date_id, position)
);
CREATE INDEX event_signups_date ON event_signups (event_id, date_id, status, position);

CREATE TABLE event_date_counts (
  event_id         TEXT NOT NULL REFERENCES events (id),
  date_id          TEXT NOT NULL REFERENCES bookings (id),
  confirmed_places INTEGER NOT NULL DEFAULT 0 CHECK (confirmed_places >= 0),
  waiting_places   INTEGER NOT NULL DEFAULT 0 CHECK (waiting_places >= 0),
  signups          INTEGER NOT NULL DEFAULT 0 CHECK (signups >= 0),
  cancelled_places INTEGER NOT NULL DEFAULT 0 CHECK (cancelled_places >= 0),
  next_position    INTEGER NOT NULL DEFAULT 1,
  attended         INTEGER CHECK (attended IS NULL OR attended >= 0),
  attended_by      TEXT REFERENCES members (id),
  attended_at      BIGINT,
  purged_at        BIGINT,
  PRIMARY KEY (event_id, date_id)
);

-- The twin of database/migrations/0010-bookings.sql for PostgreSQL (same tables, same columns).
-- Bookings of spaces and the members' calendar feed tokens. Times are epoch milliseconds, intervals half-open
-- [start_ms, end_ms). A booking is active while 'booked' or 'checked_in'.

-- GiST on text equality, for the exclusion constraint below (a trusted extension: the database's owner may
-- create it).
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE bookings (
  id            TEXT PRIMARY KEY,
  member_id     TEXT NOT NULL REFERENCES members (id),
  space_id      TEXT NOT NULL,
  start_ms      BIGINT NOT NULL,
  end_ms        BIGINT NOT NULL,
  status        TEXT NOT NULL DEFAULT 'booked'
                CHECK (status IN ('booked', 'checked_in', 'released', 'cancelled')),
  created_at    BIGINT NOT NULL,
  checked_in_at BIGINT,
  released_at   BIGINT,
  cancelled_at  BIGINT,
  cancelled_by  TEXT,
  CHECK (end_ms > start_ms),
  -- The no-overlap invariant, kept by the database whoever writes (any number of API processes, a hand-made
  -- fix): two active bookings of one space never share a moment. Concurrent inserts wait for each other on
  -- the index, so of any set of overlapping requests exactly one commits.
  CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
    space_id WITH =,
    tstzrange(to_timestamp(start_ms / 1000.0), to_timestamp(end_ms / 1000.0), '[)') WITH &&
  ) WHERE (status IN ('booked', 'checked_in'))
);
CREATE INDEX bookings_space_time ON bookings (space_id, start_ms);
CREATE INDEX bookings_member_time ON bookings (member_id, start_ms);
CREATE INDEX bookings_status_start ON bookings (status, start_ms);

-- What the lobby asks every few seconds: have the bookings changed, by any process? Every statement that
-- writes the table moves this sequence on (a sequence is not rolled back, so a marker may move for nothing;
-- it never stands still for a change).
CREATE SEQUENCE bookings_changes;
CREATE FUNCTION bookings_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM nextval('bookings_changes');
  RETURN NULL;
END;
$$;
CREATE TRIGGER bookings_changed AFTER INSERT OR UPDATE OR DELETE ON bookings
FOR EACH STATEMENT EXECUTE FUNCTION bookings_changed();

-- One calendar-feed token per member, only the SHA-256 (hex) of the token.
CREATE TABLE calendar_tokens (
  token_hash TEXT PRIMARY KEY,
  member_id  TEXT NOT NULL UNIQUE REFERENCES members (id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL
);
